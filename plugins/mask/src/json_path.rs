//! The JSONPath subset fields are chosen with: `$.user.ssn`,
//! `$.items[*].card`, `$.items[0].card`, `$['odd key']`, `$.*`, and
//! `$..ssn` (the key at any depth).

use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
    /// Every member of an object or array.
    Wildcard,
    /// The key at this level or any below.
    Descendant(String),
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

impl JsonPath {
    /// Parse `text`, which starts with `$`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("JSON path `{text}`: {why}");
        let mut rest = text
            .strip_prefix('$')
            .ok_or_else(|| bad("must start with `$`"))?;
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("..") {
                let (name, tail) = split_name(after);
                if name.is_empty() {
                    return Err(bad("`..` needs a key after it"));
                }
                steps.push(Step::Descendant(name.to_string()));
                rest = tail;
            } else if let Some(after) = rest.strip_prefix('.') {
                let (name, tail) = split_name(after);
                steps.push(match name {
                    "" => return Err(bad("empty key after `.`")),
                    "*" => Step::Wildcard,
                    name => Step::Key(name.to_string()),
                });
                rest = tail;
            } else if let Some(after) = rest.strip_prefix('[') {
                let close = after.find(']').ok_or_else(|| bad("unclosed `[`"))?;
                let inside = after[..close].trim();
                steps.push(if inside == "*" {
                    Step::Wildcard
                } else if let Some(quoted) =
                    inside.strip_prefix('\'').and_then(|s| s.strip_suffix('\''))
                {
                    Step::Key(quoted.to_string())
                } else if let Some(quoted) =
                    inside.strip_prefix('"').and_then(|s| s.strip_suffix('"'))
                {
                    Step::Key(quoted.to_string())
                } else {
                    Step::Index(
                        inside
                            .parse()
                            .map_err(|_| bad("an index must be a number, `*` or a quoted key"))?,
                    )
                });
                rest = &after[close + 1..];
            } else {
                return Err(bad("expected `.`, `..` or `[`"));
            }
        }
        if steps.is_empty() {
            return Err(bad("names the whole document"));
        }
        Ok(Self { steps })
    }

    /// Whether the path has a `..` step, whose matching costs grow with
    /// the depth of the value.
    pub fn has_descendant(&self) -> bool {
        self.steps
            .iter()
            .any(|step| matches!(step, Step::Descendant(_)))
    }

    /// Whether the value at `path` (from the document's root) is selected.
    pub fn matches(&self, path: &[Segment<'_>]) -> bool {
        matches(&self.steps, path)
    }
}

/// One step of a value's position: a member's key or an item's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    Key(Cow<'a, str>),
    Index(usize),
}

fn split_name(text: &str) -> (&str, &str) {
    let end = text.find(['.', '[']).unwrap_or(text.len());
    text.split_at(end)
}

fn matches(steps: &[Step], path: &[Segment<'_>]) -> bool {
    let Some((step, rest)) = steps.split_first() else {
        return path.is_empty();
    };
    match step {
        Step::Key(key) => {
            matches!(path.first(), Some(Segment::Key(k)) if k.as_ref() == key)
                && matches(rest, &path[1..])
        }
        Step::Index(index) => {
            matches!(path.first(), Some(Segment::Index(i)) if i == index)
                && matches(rest, &path[1..])
        }
        Step::Wildcard => !path.is_empty() && matches(rest, &path[1..]),
        Step::Descendant(key) => (0..path.len()).any(|at| {
            matches!(&path[at], Segment::Key(k) if k.as_ref() == key)
                && matches(rest, &path[at + 1..])
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::{JsonPath, Segment};

    fn path(segments: &[&str]) -> Vec<Segment<'static>> {
        segments
            .iter()
            .map(|s| match s.parse() {
                Ok(index) => Segment::Index(index),
                Err(_) => Segment::Key(s.to_string().into()),
            })
            .collect()
    }

    fn selects(pattern: &str, at: &[&str]) -> bool {
        JsonPath::parse(pattern).expect("parses").matches(&path(at))
    }

    #[test]
    fn paths_select_keys_indexes_wildcards_and_descendants() {
        assert!(selects("$.user.ssn", &["user", "ssn"]));
        assert!(!selects("$.user.ssn", &["user", "name"]));
        assert!(!selects("$.user.ssn", &["user", "ssn", "x"]));
        assert!(selects("$.items[*].card", &["items", "3", "card"]));
        assert!(selects("$.items[1].card", &["items", "1", "card"]));
        assert!(!selects("$.items[1].card", &["items", "0", "card"]));
        assert!(selects("$['odd key']", &["odd key"]));
        assert!(selects("$..card", &["a", "b", "2", "card"]));
        assert!(selects("$..card", &["card"]));
        assert!(selects("$.*", &["anything"]));
        for bad in ["user.ssn", "$", "$.", "$[x]", "$.a[", "$.."] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
    }
}
