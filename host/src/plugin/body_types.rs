//! Which bodies a plugin's body phases see, by `Content-Type`: a plugin
//! that only reads JSON and text (the built-in `mask`) is not called, and
//! nothing is buffered for it, when the body is an image or a download.

use http::HeaderMap;
use http::header::CONTENT_TYPE;

use crate::config::PluginConfig;

/// The first `Content-Type` value of a message, which decides which body
/// phases read its body.
pub fn content_type(headers: &HeaderMap) -> Option<&[u8]> {
    headers.get(CONTENT_TYPE).map(|v| v.as_bytes())
}

/// A media range a plugin's body phases accept.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MediaRange {
    /// `*/*`: any body that declares a type.
    Any,
    /// `text/*`.
    Type(String),
    /// `*/json`: this subtype under any type.
    Subtype(String),
    /// `*/*+json`: a structured-syntax suffix (RFC 6838).
    Suffix(String),
    /// `application/json`.
    Exact(String, String),
}

impl MediaRange {
    fn parse(pattern: &str) -> Result<Self, String> {
        let lower = pattern.trim().to_ascii_lowercase();
        let Some((kind, subtype)) = lower.split_once('/') else {
            return Err(format!("{pattern:?} is not a media type (type/subtype)"));
        };
        let token = |s: &str| !s.is_empty() && s.bytes().all(is_token_byte);
        Ok(match (kind, subtype) {
            ("*", "*") => Self::Any,
            ("*", s) if s.strip_prefix("*+").is_some_and(token) => Self::Suffix(s[2..].to_string()),
            ("*", s) if token(s) => Self::Subtype(s.to_string()),
            (t, "*") if token(t) => Self::Type(t.to_string()),
            (t, s) if token(t) && token(s) => Self::Exact(t.to_string(), s.to_string()),
            _ => {
                return Err(format!(
                    "{pattern:?} is not a media range: give type/subtype, type/*, */subtype, */*+suffix or */*"
                ));
            }
        })
    }

    /// `kind` and `subtype` in any case (the range's own are lower-case).
    fn admits(&self, kind: &[u8], subtype: &[u8]) -> bool {
        match self {
            Self::Any => true,
            Self::Type(t) => kind.eq_ignore_ascii_case(t.as_bytes()),
            Self::Subtype(s) => subtype.eq_ignore_ascii_case(s.as_bytes()),
            Self::Suffix(suffix) => {
                subtype
                    .len()
                    .checked_sub(suffix.len() + 1)
                    .is_some_and(|plus| {
                        subtype[plus] == b'+'
                            && subtype[plus + 1..].eq_ignore_ascii_case(suffix.as_bytes())
                    })
            }
            Self::Exact(t, s) => {
                kind.eq_ignore_ascii_case(t.as_bytes())
                    && subtype.eq_ignore_ascii_case(s.as_bytes())
            }
        }
    }
}

/// An RFC 9110 token character, with `*` left out (it is the wildcard).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'+-.^_`|~".contains(&b)
}

/// The bodies a plugin's body phases see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyTypes {
    /// `None`: every body, with or without a `Content-Type`.
    ranges: Option<Vec<MediaRange>>,
}

impl BodyTypes {
    /// From the config's `body_content_types`; `None` admits every body.
    pub fn parse(patterns: Option<&[impl AsRef<str>]>) -> Result<Self, String> {
        let ranges = patterns
            .map(|list| list.iter().map(|p| MediaRange::parse(p.as_ref())).collect())
            .transpose()?;
        Ok(Self { ranges })
    }

    /// A configured plugin's: its `body_content_types`, else the default
    /// of the built-in plugin it is, else every body.
    pub fn for_plugin(config: &PluginConfig) -> Result<Self, String> {
        match &config.body_content_types {
            Some(list) => Self::parse(Some(list)),
            None => Self::parse(
                config
                    .builtin
                    .as_deref()
                    .and_then(super::builtin::body_content_types),
            ),
        }
    }

    /// Whether a body of the message with these headers reaches the plugin.
    pub fn admits_headers(&self, headers: &HeaderMap) -> bool {
        self.admits(content_type(headers))
    }

    /// Whether a body with this (first) `Content-Type` value reaches the
    /// plugin. The media type is read as a plugin reads it (parameters
    /// dropped, case folded); a body without one matches no range.
    pub fn admits(&self, content_type: Option<&[u8]>) -> bool {
        let Some(ranges) = &self.ranges else {
            return true;
        };
        let Some(value) = content_type else {
            return false;
        };
        // Nearly every value is ASCII and is read in place (a field value
        // holds no control character but tab, so ASCII trimming is the
        // getter's trimming); any other is read as the plugin's getter
        // gives it, invalid UTF-8 replaced.
        let lossy;
        let essence = if value.is_ascii() {
            let end = value.iter().position(|&b| b == b';').unwrap_or(value.len());
            value[..end].trim_ascii()
        } else {
            lossy = String::from_utf8_lossy(value);
            // `;` is ASCII, so it splits the text on characters.
            lossy.split(';').next().unwrap_or("").trim().as_bytes()
        };
        let Some(slash) = essence.iter().position(|&b| b == b'/') else {
            return false;
        };
        let (kind, subtype) = (&essence[..slash], &essence[slash + 1..]);
        ranges.iter().any(|range| range.admits(kind, subtype))
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn typed(value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_bytes(value).expect("a valid value"),
        );
        headers
    }

    fn types(patterns: &[&str]) -> BodyTypes {
        BodyTypes::parse(Some(patterns)).expect("valid ranges")
    }

    #[test]
    fn no_list_admits_every_body_even_untyped() {
        let all = BodyTypes::parse(None::<&[&str]>).expect("no list");
        assert!(all.admits(None));
        assert!(all.admits_headers(&HeaderMap::new()));
        assert!(all.admits_headers(&typed(b"image/png")));
    }

    #[test]
    fn each_range_form_matches_what_it_names() {
        let cases: &[(&str, &[u8], bool)] = &[
            ("*/*", b"image/png", true),
            ("text/*", b"text/html; charset=utf-8", true),
            ("text/*", b"application/json", false),
            ("*/json", b"application/json", true),
            ("*/json", b"text/json", true),
            ("*/json", b"application/jsonx", false),
            ("*/*+json", b"application/problem+json", true),
            ("*/*+json", b"application/json", false),
            ("*/*+json", b"application/x-json", false),
            ("application/xml", b"Application/XML ; q=1", true),
            ("application/xml", b"application/xhtml+xml", false),
            // Read as the plugin's getter gives it: Unicode spaces trimmed,
            // invalid UTF-8 replaced.
            ("*/json", "application/json\u{a0}".as_bytes(), true),
            ("text/*", b"text/plain\xff", true),
            ("*/json", b"application/json\xff", false),
        ];
        for (pattern, value, expected) in cases {
            assert_eq!(
                types(&[*pattern]).admits_headers(&typed(value)),
                *expected,
                "{pattern} against {}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn a_body_without_a_media_type_matches_no_range() {
        let any = types(&["*/*"]);
        assert!(!any.admits_headers(&HeaderMap::new()));
        assert!(!any.admits_headers(&typed(b"json")));
        assert!(!any.admits_headers(&typed(b"")));
    }

    #[test]
    fn only_the_first_content_type_counts() {
        let json = types(&["application/json"]);
        let mut headers = typed(b"image/png");
        headers.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(!json.admits_headers(&headers));
    }

    #[test]
    fn malformed_ranges_are_refused_with_the_pattern() {
        for bad in [
            "json",
            "application/",
            "/json",
            "*/*+",
            "text/*;q=1",
            "a b/c",
            "app*/json",
        ] {
            let error = BodyTypes::parse(Some(&[bad])).expect_err("refused");
            assert!(error.contains(&format!("{bad:?}")), "{bad}: {error}");
        }
    }
}
