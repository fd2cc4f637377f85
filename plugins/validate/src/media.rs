//! Media types and ranges (`application/json`, `application/*`, `*/*`),
//! compared without parameters and case-insensitively.

/// A media range from settings or an OpenAPI `content` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRange {
    kind: String,
    subtype: String,
}

/// The `type/subtype` of a Content-Type value, lower-cased, without parameters.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

impl MediaRange {
    /// Parse `type/subtype`, either part possibly `*`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let essence = essence(text);
        match essence.split_once('/') {
            Some((kind, subtype))
                if !kind.is_empty() && !subtype.is_empty() && (kind != "*" || subtype == "*") =>
            {
                Ok(Self {
                    kind: kind.to_string(),
                    subtype: subtype.to_string(),
                })
            }
            _ => Err(format!(
                "`{text}` is not a media type (expected type/subtype)"
            )),
        }
    }

    /// Whether a request's Content-Type falls in this range.
    pub fn matches(&self, content_type: &str) -> bool {
        let essence = essence(content_type);
        let Some((kind, subtype)) = essence.split_once('/') else {
            return false;
        };
        (self.kind == "*" || self.kind == kind) && (self.subtype == "*" || self.subtype == subtype)
    }

    /// Whether bodies of this range are JSON, so a schema applies.
    pub fn is_json(&self) -> bool {
        self.subtype == "json" || self.subtype.ends_with("+json") || self.subtype == "*"
    }

    /// Exact types beat `type/*`, which beats `*/*`.
    pub fn specificity(&self) -> u8 {
        u8::from(self.kind != "*") + u8::from(self.subtype != "*")
    }
}

#[cfg(test)]
mod tests {
    use super::MediaRange;

    #[test]
    fn ranges_match_without_parameters_or_case() {
        let json = MediaRange::parse("application/json").expect("parses");
        assert!(json.matches("Application/JSON; charset=utf-8"));
        assert!(!json.matches("application/jsonx"));
        assert!(
            MediaRange::parse("application/*")
                .expect("parses")
                .matches("application/xml")
        );
        assert!(
            MediaRange::parse("*/*")
                .expect("parses")
                .matches("text/plain")
        );
        assert!(MediaRange::parse("json").is_err());
        assert!(MediaRange::parse("*/json").is_err());
        assert!(
            MediaRange::parse("application/problem+json")
                .expect("parses")
                .is_json()
        );
    }
}
