//! Parameters arrive as text: decode them and turn them into the JSON
//! values their schemas describe (`"7"` into `7` for an integer), so the
//! schema can judge them. What cannot be coerced stays a string and fails
//! the schema's `type` rule, which names the problem.

use serde_json::Value;

/// Percent-decode `text`; `plus_is_space` for query strings.
pub fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

/// `(name, value)` pairs of a query string, decoded, in order.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name, true), percent_decode(value, true))
        })
        .collect()
}

/// The JSON types a schema allows, as the coercion needs them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    /// `type` (one, or the list of 3.1), empty when unconstrained.
    pub types: Vec<String>,
    /// The items' types, for arrays.
    pub item_types: Vec<String>,
}

impl Shape {
    /// Whether the parameter is an array.
    pub fn is_array(&self) -> bool {
        self.types.iter().any(|t| t == "array")
    }

    /// Turn the raw values of one parameter into the value to validate.
    /// `explode_separator` splits a single value into items (`,` for the
    /// non-exploded styles).
    pub fn coerce(&self, values: &[String], split_on: Option<char>) -> Value {
        if self.is_array() {
            let items: Vec<Value> = match (values, split_on) {
                ([one], Some(separator)) => one
                    .split(separator)
                    .map(|item| scalar(item, &self.item_types))
                    .collect(),
                _ => values
                    .iter()
                    .map(|item| scalar(item, &self.item_types))
                    .collect(),
            };
            return Value::Array(items);
        }
        scalar(
            values.first().map(String::as_str).unwrap_or(""),
            &self.types,
        )
    }
}

/// `text` as the first of `types` it parses as; a string otherwise.
fn scalar(text: &str, types: &[String]) -> Value {
    for kind in types {
        let parsed = match kind.as_str() {
            "integer" => text.parse::<i64>().ok().map(Value::from),
            "number" => text
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .and_then(|n| {
                    // Keep integers exact: `7` is a number too.
                    text.parse::<i64>()
                        .ok()
                        .map(Value::from)
                        .or_else(|| serde_json::Number::from_f64(n).map(Value::Number))
                }),
            "boolean" => match text {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => None,
            },
            "null" if text.is_empty() => Some(Value::Null),
            "string" => return Value::String(text.to_string()),
            _ => None,
        };
        if let Some(value) = parsed {
            return value;
        }
    }
    Value::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::{Shape, percent_decode, query_pairs};
    use serde_json::json;

    fn shape(types: &[&str], items: &[&str]) -> Shape {
        Shape {
            types: types.iter().map(|t| t.to_string()).collect(),
            item_types: items.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn values_become_what_their_schema_describes() {
        assert_eq!(
            shape(&["integer"], &[]).coerce(&["42".into()], None),
            json!(42)
        );
        assert_eq!(
            shape(&["integer"], &[]).coerce(&["4x".into()], None),
            json!("4x")
        );
        assert_eq!(
            shape(&["number"], &[]).coerce(&["2.5".into()], None),
            json!(2.5)
        );
        assert_eq!(
            shape(&["boolean"], &[]).coerce(&["true".into()], None),
            json!(true)
        );
        assert_eq!(
            shape(&["string"], &[]).coerce(&["12".into()], None),
            json!("12")
        );
        assert_eq!(
            shape(&["array"], &["integer"]).coerce(&["1,2".into()], Some(',')),
            json!([1, 2])
        );
        assert_eq!(
            shape(&["array"], &["integer"]).coerce(&["1".into(), "2".into()], None),
            json!([1, 2])
        );
    }

    #[test]
    fn query_strings_decode_plus_and_percent() {
        assert_eq!(
            query_pairs("a=1+2&b=%41%zz&c"),
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "A%zz".into()),
                ("c".into(), "".into()),
            ]
        );
        assert_eq!(percent_decode("caf%C3%A9+x", false), "café+x");
        assert_eq!(percent_decode("%4", false), "%4");
    }
}
