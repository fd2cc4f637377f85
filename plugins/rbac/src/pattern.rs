//! Path patterns: `/orders/*` (one segment), `/orders/{id}` (the same,
//! named for readability), `/orders/**` (any rest, including none), and
//! literal segments.

/// A compiled path pattern.
#[derive(Debug)]
pub struct PathPattern {
    segments: Vec<Segment>,
}

#[derive(Debug, PartialEq)]
enum Segment {
    Literal(String),
    One,
    Rest,
}

impl PathPattern {
    /// Compile `pattern`, which must start with `/`; `**` only last.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let Some(rest) = pattern.strip_prefix('/') else {
            return Err(format!("path {pattern:?} must start with /"));
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let segment = match *part {
                "**" if i + 1 == parts.len() => Segment::Rest,
                "**" => return Err(format!("path {pattern:?}: ** must be last")),
                "*" => Segment::One,
                p if p.starts_with('{') && p.ends_with('}') => Segment::One,
                p => Segment::Literal(p.to_string()),
            };
            segments.push(segment);
        }
        Ok(Self { segments })
    }

    /// Whether `path` (without query) matches.
    pub fn matches(&self, path: &str) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let mut parts = rest.split('/');
        for segment in &self.segments {
            match segment {
                Segment::Rest => return true,
                Segment::One => match parts.next() {
                    Some(part) if !part.is_empty() => {}
                    _ => return false,
                },
                Segment::Literal(literal) => match parts.next() {
                    Some(part) if part == literal => {}
                    _ => return false,
                },
            }
        }
        parts.next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        PathPattern::parse(pattern).expect("pattern").matches(path)
    }

    #[test]
    fn segments_wildcards_and_rest() {
        assert!(m("/orders", "/orders"));
        assert!(!m("/orders", "/orders/1"));
        assert!(m("/orders/*", "/orders/1"));
        assert!(m("/orders/{id}/items", "/orders/1/items"));
        assert!(!m("/orders/*", "/orders/"));
        assert!(!m("/orders/*", "/orders/1/items"));
        assert!(m("/orders/**", "/orders"));
        assert!(m("/orders/**", "/orders/1/items"));
        assert!(!m("/orders/**", "/ordersx"));
        assert!(m("/**", "/anything/at/all"));
        assert!(PathPattern::parse("/a/**/b").is_err());
        assert!(PathPattern::parse("a").is_err());
    }
}
