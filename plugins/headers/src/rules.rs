//! Header edits, checked once when the plugin is configured.

use std::collections::BTreeMap;

use portcullis_sdk::Edit;
use serde::Deserialize;

/// Edits for one direction, as the operator writes them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EditSettings {
    /// Headers removed first.
    #[serde(default)]
    remove: Vec<String>,
    /// Headers set, replacing any value.
    #[serde(default)]
    set: BTreeMap<String, String>,
    /// Header values appended to any existing ones.
    #[serde(default)]
    add: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    request: EditSettings,
    #[serde(default)]
    response: EditSettings,
}

/// The configured edits for both directions.
#[derive(Debug)]
pub struct HeaderRules {
    request: Vec<Edit>,
    response: Vec<Edit>,
}

impl HeaderRules {
    /// Parse and check settings given as JSON.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let settings: Settings = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Ok(Self {
            request: edits("request", settings.request)?,
            response: edits("response", settings.response)?,
        })
    }

    /// Edits for the request sent upstream.
    pub fn request_edits(&self) -> Vec<Edit> {
        self.request.clone()
    }

    /// Edits for the response sent to the client.
    pub fn response_edits(&self) -> Vec<Edit> {
        self.response.clone()
    }
}

/// Removals, then sets, then appends: the order an operator reads them in.
fn edits(direction: &str, settings: EditSettings) -> Result<Vec<Edit>, String> {
    let mut edits = Vec::new();
    for name in settings.remove {
        edits.push(Edit::RemoveHeader(checked_name(
            direction, "remove", &name,
        )?));
    }
    for (name, value) in settings.set {
        let name = checked_name(direction, "set", &name)?;
        edits.push(Edit::SetHeader((
            name,
            checked_value(direction, "set", &value)?,
        )));
    }
    for (name, value) in settings.add {
        let name = checked_name(direction, "add", &name)?;
        edits.push(Edit::AppendHeader((
            name,
            checked_value(direction, "add", &value)?,
        )));
    }
    Ok(edits)
}

/// RFC 9110 token characters, lower-cased.
fn checked_name(direction: &str, key: &str, name: &str) -> Result<String, String> {
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(is_token_char) {
        return Err(format!(
            "{direction}.{key}: {name:?} is not a valid header name"
        ));
    }
    Ok(name.to_ascii_lowercase())
}

/// Visible ASCII, spaces and tabs; no line breaks that could split a header.
fn checked_value(direction: &str, key: &str, value: &str) -> Result<String, String> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "{direction}.{key}: the value {value:?} contains a control character"
        ));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_come_in_remove_set_add_order() {
        let rules = HeaderRules::from_json(
            r#"{"response": {"add": {"x-a": "1"}, "set": {"X-Frame-Options": "DENY"}, "remove": ["server"]}}"#,
        )
        .expect("valid settings");
        assert_eq!(
            rules.response_edits(),
            vec![
                Edit::RemoveHeader("server".into()),
                Edit::SetHeader(("x-frame-options".into(), "DENY".into())),
                Edit::AppendHeader(("x-a".into(), "1".into())),
            ]
        );
        assert!(rules.request_edits().is_empty());
    }

    #[test]
    fn invalid_names_and_values_are_refused() {
        let err = HeaderRules::from_json(r#"{"request": {"set": {"bad name": "x"}}}"#).err();
        assert_eq!(
            err.as_deref(),
            Some(r#"request.set: "bad name" is not a valid header name"#)
        );
        let err = HeaderRules::from_json(r#"{"response": {"add": {"x": "a\r\nb: c"}}}"#).err();
        assert!(err.is_some_and(|e| e.contains("control character")));
        assert!(HeaderRules::from_json(r#"{"requests": {}}"#).is_err());
    }
}
