//! Reading an OpenAPI document: local `$ref`s for parameters and request
//! bodies, and each schema made into a standalone JSON Schema. OpenAPI 3.0
//! schemas are a draft-04 dialect with `nullable`; 3.1 schemas are draft
//! 2020-12.

use jsonschema::Draft;
use serde_json::{Map, Value};

/// The OpenAPI version family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V30,
    V31,
}

impl Version {
    /// From the document's `openapi` field.
    pub fn of(document: &Value) -> Result<Self, String> {
        match document.get("openapi").and_then(Value::as_str) {
            Some(v) if v.starts_with("3.0") => Ok(Self::V30),
            Some(v) if v.starts_with("3.1") => Ok(Self::V31),
            Some(v) => Err(format!(
                "OpenAPI version `{v}` is not supported (3.0 and 3.1 are)"
            )),
            None => Err("not an OpenAPI 3.x document: no `openapi` version field".into()),
        }
    }

    /// The JSON Schema draft its schemas follow.
    pub fn draft(self) -> Draft {
        match self {
            Self::V30 => Draft::Draft4,
            Self::V31 => Draft::Draft202012,
        }
    }
}

/// Follow local `$ref`s (`#/components/...`) from `value` to the object
/// they name.
pub fn resolve<'d>(document: &'d Value, mut value: &'d Value) -> Result<&'d Value, String> {
    for _ in 0..16 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return Ok(value);
        };
        let pointer = reference.strip_prefix('#').ok_or_else(|| {
            format!("`$ref: {reference}`: only references within the document are supported")
        })?;
        value = document
            .pointer(pointer)
            .ok_or_else(|| format!("`$ref: {reference}` names nothing in the document"))?;
    }
    Err("`$ref`s nest more than 16 deep".into())
}

/// A standalone schema for `schema`: the document's `components` ride
/// along so its `#/components/...` references resolve.
pub fn standalone_schema(document: &Value, schema: &Value, version: Version) -> Value {
    let mut schema = schema.clone();
    if version == Version::V30 {
        rewrite_nullable(&mut schema);
    }
    let mut components = document.get("components").cloned().unwrap_or(Value::Null);
    if version == Version::V30 {
        rewrite_nullable(&mut components);
    }
    let mut root = Map::new();
    root.insert("allOf".into(), Value::Array(vec![schema]));
    if !components.is_null() {
        root.insert("components".into(), components);
    }
    Value::Object(root)
}

/// OpenAPI 3.0's `nullable: true` as draft-04 says it: `null` added to
/// `type` (and to `enum`).
fn rewrite_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(kind)) = map.get("type") {
                    let kind = kind.clone();
                    map.insert(
                        "type".into(),
                        Value::Array(vec![Value::String(kind), Value::String("null".into())]),
                    );
                }
                if let Some(Value::Array(values)) = map.get_mut("enum")
                    && !values.contains(&Value::Null)
                {
                    values.push(Value::Null);
                }
            }
            map.values_mut().for_each(rewrite_nullable);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_nullable),
        _ => {}
    }
}

/// The `type`s a schema allows (after `$ref`s), for coercing parameters.
pub fn types_of(document: &Value, schema: &Value) -> Vec<String> {
    let Ok(schema) = resolve(document, schema) else {
        return Vec::new();
    };
    match schema.get("type") {
        Some(Value::String(kind)) => vec![kind.clone()],
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::{Version, standalone_schema};
    use serde_json::json;

    #[test]
    fn nullable_becomes_a_null_type_in_3_0_only() {
        let document =
            json!({"components": {"schemas": {"A": {"type": "string", "nullable": true}}}});
        let schema = json!({"type": "integer", "nullable": true, "enum": [1, 2]});
        let standalone = standalone_schema(&document, &schema, Version::V30);
        assert_eq!(standalone["allOf"][0]["type"], json!(["integer", "null"]));
        assert_eq!(standalone["allOf"][0]["enum"], json!([1, 2, null]));
        assert_eq!(
            standalone["components"]["schemas"]["A"]["type"],
            json!(["string", "null"])
        );
        let standalone = standalone_schema(&document, &schema, Version::V31);
        assert_eq!(standalone["allOf"][0]["type"], json!("integer"));
    }
}
