//! The JSONPath subset fields are chosen with: `$.user.ssn`,
//! `$.items[*].card`, `$.items[0].card`, `$['odd key']`, `$.*`, and
//! `$..ssn` (the key at any depth).

use serde_json::Value;

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

    /// Call `f` on every value the path selects in `document`.
    pub fn for_each_mut(&self, document: &mut Value, f: &mut dyn FnMut(&mut Value)) {
        visit(&self.steps, document, f);
    }
}

fn split_name(text: &str) -> (&str, &str) {
    let end = text.find(['.', '[']).unwrap_or(text.len());
    text.split_at(end)
}

fn visit(steps: &[Step], value: &mut Value, f: &mut dyn FnMut(&mut Value)) {
    let Some((step, rest)) = steps.split_first() else {
        f(value);
        return;
    };
    match (step, value) {
        (Step::Key(key), Value::Object(map)) => {
            if let Some(child) = map.get_mut(key) {
                visit(rest, child, f);
            }
        }
        (Step::Index(index), Value::Array(items)) => {
            if let Some(child) = items.get_mut(*index) {
                visit(rest, child, f);
            }
        }
        (Step::Wildcard, Value::Object(map)) => {
            map.values_mut().for_each(|child| visit(rest, child, f))
        }
        (Step::Wildcard, Value::Array(items)) => {
            items.iter_mut().for_each(|child| visit(rest, child, f))
        }
        (Step::Descendant(key), value) => descend(key, rest, value, f),
        _ => {}
    }
}

fn descend(key: &str, rest: &[Step], value: &mut Value, f: &mut dyn FnMut(&mut Value)) {
    match value {
        Value::Object(map) => {
            for (name, child) in map.iter_mut() {
                if name == key {
                    visit(rest, child, f);
                } else {
                    descend(key, rest, child, f);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|child| descend(key, rest, child, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::JsonPath;
    use serde_json::{Value, json};

    fn mark(path: &str, mut document: Value) -> Value {
        JsonPath::parse(path)
            .expect("parses")
            .for_each_mut(&mut document, &mut |v| *v = json!("X"));
        document
    }

    #[test]
    fn paths_select_keys_indexes_wildcards_and_descendants() {
        let doc = json!({"user": {"ssn": "1", "name": "n"}, "items": [{"card": "a"}, {"card": "b"}], "odd key": 1});
        assert_eq!(
            mark("$.user.ssn", doc.clone())["user"],
            json!({"ssn": "X", "name": "n"})
        );
        assert_eq!(
            mark("$.items[*].card", doc.clone())["items"],
            json!([{"card": "X"}, {"card": "X"}])
        );
        assert_eq!(
            mark("$.items[1].card", doc.clone())["items"],
            json!([{"card": "a"}, {"card": "X"}])
        );
        assert_eq!(mark("$['odd key']", doc.clone())["odd key"], json!("X"));
        assert_eq!(
            mark("$..card", doc.clone())["items"],
            json!([{"card": "X"}, {"card": "X"}])
        );
        assert_eq!(mark("$.missing.path", doc.clone()), doc);
        for bad in ["user.ssn", "$", "$.", "$[x]", "$.a[", "$.."] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
    }
}
