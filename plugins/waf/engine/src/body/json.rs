//! JSON bodies flattened into arguments: `{"a":{"b":[1]}}` gives
//! `json.a.b.0 = 1`, so rules over ARGS see every leaf.

use serde_json::Value;

use crate::request::Pairs;

/// Deeper documents are refused: a body processor must not recurse without bound.
const MAX_DEPTH: usize = 64;

/// Each leaf carries its whole path as a name: a long key above many leaves
/// would multiply a small body into a large one. Past this many bytes of
/// names the document is refused.
const MAX_NAME_BYTES: usize = 1 << 20;

pub fn flatten(input: &[u8]) -> Result<Pairs, String> {
    let value: Value = serde_json::from_slice(input).map_err(|error| error.to_string())?;
    let mut out = Vec::new();
    walk(&value, b"json".to_vec(), 0, &mut out)?;
    check_budget(&out)?;
    Ok(out)
}

fn check_budget(out: &Pairs) -> Result<(), String> {
    if out.len() > crate::request::MAX_ARGUMENTS {
        return Err("JSON document with too many values".into());
    }
    let names: usize = out.iter().map(|(name, _)| name.len()).sum();
    if names > MAX_NAME_BYTES {
        return Err("JSON document whose value names are too long".into());
    }
    Ok(())
}

fn walk(value: &Value, name: Vec<u8>, depth: usize, out: &mut Pairs) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err("JSON nested too deeply".into());
    }
    let child = |key: &[u8]| {
        let mut child = name.clone();
        child.push(b'.');
        child.extend_from_slice(key);
        child
    };
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                walk(member, child(key.as_bytes()), depth + 1, out)?;
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                walk(item, child(index.to_string().as_bytes()), depth + 1, out)?;
            }
        }
        Value::String(text) => out.push((name, text.as_bytes().to_vec())),
        Value::Number(number) => out.push((name, number.to_string().into_bytes())),
        Value::Bool(flag) => out.push((name, flag.to_string().into_bytes())),
        Value::Null => out.push((name, Vec::new())),
    }
    if out.len().is_multiple_of(64) {
        check_budget(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_nested_documents() {
        let args = flatten(br#"{"a":{"b":["x",2]},"c":null}"#).expect("parses");
        assert_eq!(args[0], (b"json.a.b.0".to_vec(), b"x".to_vec()));
        assert_eq!(args[1], (b"json.a.b.1".to_vec(), b"2".to_vec()));
        assert_eq!(args[2], (b"json.c".to_vec(), Vec::new()));
        assert!(flatten(b"{bad").is_err());
    }

    #[test]
    fn a_long_key_over_many_values_is_refused() {
        let key = "k".repeat(100_000);
        let values = vec!["0"; 200].join(",");
        let document = format!("{{\"{key}\":[{values}]}}");
        assert!(flatten(document.as_bytes()).is_err());
    }
}
