//! Paths exempt from the check, for endpoints that take cross-site
//! requests on purpose (webhooks, SSO callbacks). Patterns read like Go
//! ServeMux paths: a trailing `/` matches the whole subtree, `{name}`
//! matches one segment, `{name...}` the rest of the path.

/// One exempt path pattern.
#[derive(Debug, Clone)]
pub struct BypassPattern {
    segments: Vec<Part>,
    subtree: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Segment,
    Rest,
}

impl BypassPattern {
    /// Parse a pattern; it must start with `/`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let body = text
            .strip_prefix('/')
            .ok_or_else(|| format!("bypass pattern `{text}` does not start with `/`"))?;
        let subtree = body.is_empty() || body.ends_with('/');
        let body = body.strip_suffix('/').unwrap_or(body);
        let mut segments = Vec::new();
        let raw: Vec<&str> = if body.is_empty() {
            Vec::new()
        } else {
            body.split('/').collect()
        };
        for (i, segment) in raw.iter().enumerate() {
            let part = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if name.ends_with("...") => {
                    if i + 1 != raw.len() {
                        return Err(format!(
                            "bypass pattern `{text}`: `{{{name}}}` must be last"
                        ));
                    }
                    Part::Rest
                }
                Some(name) if !name.is_empty() && !name.contains(['{', '}']) => Part::Segment,
                _ if segment.contains(['{', '}']) => {
                    return Err(format!(
                        "bypass pattern `{text}`: wildcards must be whole segments"
                    ));
                }
                _ => Part::Literal((*segment).to_string()),
            };
            segments.push(part);
        }
        Ok(Self { segments, subtree })
    }

    /// Whether `path` is exempt.
    pub fn matches(&self, path: &str) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let mut parts = rest.split('/');
        for segment in &self.segments {
            match (segment, parts.next()) {
                (Part::Rest, _) => return true,
                (_, None) => return false,
                (Part::Literal(literal), Some(part)) if literal == part => {}
                (Part::Segment, Some(part)) if !part.is_empty() => {}
                _ => return false,
            }
        }
        match parts.next() {
            None => true,
            // `/bypass/` matches `/bypass/` and everything under it.
            Some(_) => self.subtree,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BypassPattern;

    #[test]
    fn subtrees_single_segments_and_rests() {
        let subtree = BypassPattern::parse("/bypass/").expect("valid");
        assert!(subtree.matches("/bypass/"));
        assert!(subtree.matches("/bypass/deep/er"));
        assert!(!subtree.matches("/bypassed"));
        let one = BypassPattern::parse("/only/{foo}").expect("valid");
        assert!(one.matches("/only/123"));
        assert!(!one.matches("/only/123/more"));
        assert!(!one.matches("/only/"));
        let rest = BypassPattern::parse("/hooks/{rest...}").expect("valid");
        assert!(rest.matches("/hooks/a/b/c"));
        assert!(BypassPattern::parse("hooks").is_err());
        assert!(BypassPattern::parse("/a/{x...}/b").is_err());
    }
}
