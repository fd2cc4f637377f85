//! Masking one response body: decode it, mask JSON values ([`stream`]:
//! chosen fields wholly, every string and number by pattern) or plain text
//! (by pattern), and encode it again. A body with nothing to mask is
//! passed on as it came.

use serde::Deserialize;

use crate::codec::{CodecError, Coding};
use crate::detect::{Detectors, Kind};
use crate::json_path::JsonPath;
use crate::stream::{self, NotJson, Rules};
use crate::style::Style;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Kinds of data to find in text and JSON values (default: all).
    detect: Option<Vec<Kind>>,
    /// JSON fields to mask whatever they hold (`$.user.ssn`).
    #[serde(default)]
    fields: Vec<String>,
    /// `full`, `last4` (the default) or `hash`.
    #[serde(default)]
    style: StyleName,
    /// The key for `hash` (required with it).
    hash_key: Option<String>,
    /// Largest decoded body, in bytes (compressed bodies can expand).
    #[serde(default = "default_max_decoded")]
    max_decoded_bytes: usize,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum StyleName {
    Full,
    #[default]
    Last4,
    Hash,
}

fn default_max_decoded() -> usize {
    16 * 1024 * 1024
}

/// Why a body could not be masked; the response is refused (502) rather
/// than sent unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaskError {
    /// The coding could not be undone.
    Codec(CodecError),
    /// Fields were asked for, but the JSON body does not parse.
    UnparsableJson,
}

/// What the body is, from its Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
    /// Anything else (images, archives...): passed through.
    Other,
}

impl Format {
    /// From a Content-Type header.
    pub fn of(content_type: Option<&str>) -> Self {
        let essence = content_type
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.split_once('/') {
            Some((_, subtype)) if subtype == "json" || subtype.ends_with("+json") => Self::Json,
            Some(("text", _)) => Self::Text,
            Some(("application", "xml" | "javascript" | "x-www-form-urlencoded")) => Self::Text,
            _ => Self::Other,
        }
    }
}

/// A configured masker.
#[derive(Debug)]
pub struct Masker {
    detectors: Detectors,
    fields: Vec<JsonPath>,
    style: Style,
    max_decoded: usize,
}

impl Masker {
    /// Parse settings (JSON).
    pub fn from_json(json: &str) -> Result<Self, String> {
        let settings: Settings = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let style = match (settings.style, settings.hash_key) {
            (StyleName::Hash, Some(key)) if key.len() >= 16 => Style::Hash(key.into_bytes()),
            (StyleName::Hash, _) => {
                return Err("style = \"hash\" needs a `hash_key` of at least 16 characters".into());
            }
            (StyleName::Full, _) => Style::Full,
            (StyleName::Last4, _) => Style::KeepLast4,
        };
        let fields = settings
            .fields
            .iter()
            .map(|f| JsonPath::parse(f))
            .collect::<Result<Vec<_>, _>>()?;
        let kinds = settings.detect.unwrap_or_else(|| Kind::ALL.to_vec());
        Ok(Self {
            detectors: Detectors::new(&kinds),
            fields,
            style,
            max_decoded: settings.max_decoded_bytes,
        })
    }

    /// The masked body, or `None` when nothing needed masking.
    pub fn mask(
        &self,
        format: Format,
        coding: Coding,
        body: &[u8],
    ) -> Result<Option<Vec<u8>>, MaskError> {
        if format == Format::Other || body.is_empty() {
            return Ok(None);
        }
        let decoded = coding
            .decode(body, self.max_decoded)
            .map_err(MaskError::Codec)?;
        let masked = match format {
            Format::Json => self.mask_json(&decoded)?,
            _ => self
                .mask_text(&String::from_utf8_lossy(&decoded))
                .map(String::into_bytes),
        };
        Ok(masked.map(|plain| coding.encode(&plain)))
    }

    fn mask_json(&self, body: &[u8]) -> Result<Option<Vec<u8>>, MaskError> {
        let rules = Rules {
            detectors: &self.detectors,
            fields: &self.fields,
            style: &self.style,
        };
        match stream::mask(body, &rules) {
            Ok(masked) => Ok(masked),
            // Patterns still apply to a body that is not JSON after all;
            // chosen fields cannot, so that fails closed.
            Err(NotJson) if self.fields.is_empty() => Ok(self
                .mask_text(&String::from_utf8_lossy(body))
                .map(String::into_bytes)),
            Err(NotJson) => Err(MaskError::UnparsableJson),
        }
    }

    /// `text` with every detected span masked, or `None` if there was none.
    pub fn mask_text(&self, text: &str) -> Option<String> {
        self.detectors.mask(text, &self.style)
    }
}

#[cfg(test)]
mod tests {
    use super::{Format, MaskError, Masker};
    use crate::codec::Coding;
    use serde_json::{Value, json};

    fn masker(settings: Value) -> Masker {
        Masker::from_json(&settings.to_string()).expect("configures")
    }

    #[test]
    fn fields_and_patterns_are_masked_and_everything_else_kept_byte_for_byte() {
        let masker = masker(json!({"fields": ["$.user.ssn", "$.items[*].card", "$.secret"]}));
        let body = br#"{ "z": "first",
  "user": {"name": "Ann", "ssn": 123456789, "note": "reach me at ann@example.com"},
  "items": [{"card": "4000056655665556", "id": 1}, {"card": null}],
  "secret": {"pin": 1234, "ok": true, "tags": ["a b c d"]},
  "escaped": "line\n4111111111111111", "a": 1.5e3 }"#;
        let out = masker
            .mask(Format::Json, Coding::Identity, body)
            .expect("masks")
            .expect("changed");
        let expected = r#"{ "z": "first",
  "user": {"name": "Ann", "ssn": "*****6789", "note": "reach me at ***@******e.com"},
  "items": [{"card": "************5556", "id": 1}, {"card": null}],
  "secret": {"pin": "****", "ok": "****", "tags": ["* * * *"]},
  "escaped": "line\n************1111", "a": 1.5e3 }"#;
        assert_eq!(String::from_utf8_lossy(&out), expected);
        let _: Value = serde_json::from_slice(&out).expect("still JSON");
    }

    #[test]
    fn keys_are_masked_and_chosen_fields_bound_the_depth() {
        let masker = masker(json!({"fields": ["$..ssn"]}));
        let out = masker.mask(
            Format::Json,
            Coding::Identity,
            br#"{"ann@example.com": {"ssn": "123-45-6789"}}"#,
        );
        let out = out.expect("masks").expect("changed");
        assert_eq!(
            String::from_utf8_lossy(&out),
            r#"{"***@******e.com": {"ssn": "***-**-6789"}}"#
        );
        let deep = format!("{}1{}", "[".repeat(600), "]".repeat(600));
        assert_eq!(
            masker.mask(Format::Json, Coding::Identity, deep.as_bytes()),
            Err(MaskError::UnparsableJson)
        );
    }

    #[test]
    fn deep_nesting_costs_no_recursion() {
        let masker = masker(json!({}));
        let body = format!(
            "{}\"4111111111111111\"{}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let out = masker
            .mask(Format::Json, Coding::Identity, body.as_bytes())
            .expect("masks")
            .expect("changed");
        assert!(String::from_utf8_lossy(&out).contains("************1111"));
    }

    #[test]
    fn malformed_json_is_not_taken_for_json() {
        let masker = masker(json!({"fields": ["$.a"]}));
        for bad in [
            &b"{\"a\":1,}"[..],
            b"[1,]",
            b"{\"a\" 1}",
            b"[1] x",
            b"{\"a\":tru}",
            b"\"open",
            b"{",
            b"[1 2]",
        ] {
            assert_eq!(
                masker.mask(Format::Json, Coding::Identity, bad),
                Err(MaskError::UnparsableJson),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn clean_bodies_pass_untouched_and_other_types_are_not_read() {
        let masker = masker(json!({}));
        assert_eq!(
            masker.mask(Format::Json, Coding::Identity, br#"{"ok": true}"#),
            Ok(None)
        );
        assert_eq!(
            masker.mask(Format::Other, Coding::Identity, b"4111111111111111"),
            Ok(None)
        );
        let text = masker
            .mask(Format::Text, Coding::Identity, b"card 4111111111111111")
            .expect("masks");
        assert_eq!(text.as_deref(), Some(&b"card ************1111"[..]));
    }

    #[test]
    fn compressed_bodies_are_masked_and_recompressed() {
        let masker = masker(json!({"style": "full"}));
        for coding in [Coding::Gzip, Coding::Brotli] {
            let body = coding.encode(br#"{"ssn":"123-45-6789"}"#);
            let out = masker
                .mask(Format::Json, coding, &body)
                .expect("masks")
                .expect("changed");
            assert_eq!(
                coding.decode(&out, 1000).expect("decodes"),
                br#"{"ssn":"***-**-****"}"#
            );
        }
    }

    #[test]
    fn unparsable_json_with_fields_fails_closed() {
        let masker = masker(json!({"fields": ["$.ssn"]}));
        assert_eq!(
            masker.mask(Format::Json, Coding::Identity, b"{not json"),
            Err(MaskError::UnparsableJson)
        );
        assert!(Masker::from_json(r#"{"style":"hash"}"#).is_err());
    }
}
