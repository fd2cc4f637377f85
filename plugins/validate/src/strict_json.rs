//! Parsing a JSON body for validation, refusing duplicate object keys:
//! the validator would judge the last value while an upstream that keeps
//! the first acts on another (`{"role":"user","role":"admin"}`).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::violation::Violation;

/// `body` as a JSON value, or a 400 naming the problem.
pub fn parse(body: &[u8]) -> Result<Value, Violation> {
    serde_json::from_slice::<Strict>(body)
        .map(|strict| strict.0)
        .map_err(|e| {
            let (rule, what) = if e.to_string().starts_with(DUPLICATE) {
                ("duplicate-key", "the request body repeats an object key")
            } else {
                ("json", "the request body is not valid JSON")
            };
            Violation::invalid(
                "body",
                "",
                rule,
                format!("{what} (line {}, column {})", e.line(), e.column()),
            )
        })
}

const DUPLICATE: &str = "duplicate key";

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(DUPLICATE));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use serde_json::json;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert_eq!(
            parse(br#"{"a": [1, {"b": null}], "c": 1.5}"#).ok(),
            Some(json!({"a": [1, {"b": null}], "c": 1.5}))
        );
        assert_eq!(
            parse(br#"{"role": "user", "role": "admin"}"#)
                .expect_err("dup")
                .rule,
            "duplicate-key"
        );
        assert_eq!(
            parse(br#"[{"x": {"k": 1, "k": 2}}]"#)
                .expect_err("dup")
                .rule,
            "duplicate-key"
        );
        assert_eq!(parse(br#"{"a": }"#).expect_err("bad").rule, "json");
    }
}
