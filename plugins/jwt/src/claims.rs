//! What a verified token says about its holder: principal, scopes, roles,
//! and the checks on claim values a route asks for.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Scopes granted: `scope` (space-separated, RFC 8693) or `scp` (a list or
/// a string, as Azure AD and Okta write it).
pub fn scopes(claims: &Map<String, Value>) -> Vec<String> {
    let mut scopes = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(text)) => {
                scopes.extend(text.split_ascii_whitespace().map(str::to_string))
            }
            Some(Value::Array(items)) => {
                scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_string))
            }
            _ => {}
        }
    }
    scopes.sort();
    scopes.dedup();
    scopes
}

/// Strings at a dotted claim path, e.g. `realm_access.roles`; a single
/// string counts as a list of one.
pub fn strings_at(claims: &Map<String, Value>, path: &str) -> Vec<String> {
    let mut segments = path.split('.');
    let Some(first) = segments.next() else {
        return Vec::new();
    };
    let mut value = claims.get(first);
    for segment in segments {
        value = value.and_then(|v| v.get(segment));
    }
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// A claim as text: strings as they are, anything else as JSON.
pub fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether every matcher holds: the claim equals one of its values, or
/// (for an array claim) one of its items does.
pub fn matches(claims: &Map<String, Value>, matchers: &BTreeMap<String, Vec<Value>>) -> bool {
    matchers
        .iter()
        .all(|(name, allowed)| match claims.get(name) {
            Some(Value::Array(items)) => items.iter().any(|item| allowed.contains(item)),
            Some(value) => allowed.contains(value),
            None => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn scopes_come_from_scope_and_scp() {
        let c = claims(json!({"scope": "read write", "scp": ["admin", "read"]}));
        assert_eq!(scopes(&c), ["admin", "read", "write"]);
    }

    #[test]
    fn nested_roles_are_found_by_path() {
        let c = claims(json!({"realm_access": {"roles": ["a", "b"]}, "role": "x"}));
        assert_eq!(strings_at(&c, "realm_access.roles"), ["a", "b"]);
        assert_eq!(strings_at(&c, "role"), ["x"]);
        assert!(strings_at(&c, "missing.path").is_empty());
    }

    #[test]
    fn matchers_accept_any_listed_value_or_array_item() {
        let c = claims(json!({"tenant": "acme", "groups": ["ops", "dev"], "email_verified": true}));
        let m = |v: Value| -> BTreeMap<String, Vec<Value>> {
            serde_json::from_value(v).unwrap_or_default()
        };
        assert!(matches(&c, &m(json!({"tenant": ["acme", "globex"]}))));
        assert!(matches(
            &c,
            &m(json!({"groups": ["dev"], "email_verified": [true]}))
        ));
        assert!(!matches(&c, &m(json!({"tenant": ["globex"]}))));
        assert!(!matches(&c, &m(json!({"absent": ["x"]}))));
    }
}
