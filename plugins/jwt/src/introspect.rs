//! Opaque tokens: OAuth 2.0 Token Introspection (RFC 7662). A token that
//! is not a JWT is POSTed to the configured endpoint (through the host's
//! `outbound-http`, only to an allowed origin) with the gateway's client
//! credentials; an `active` answer's fields are the token's claims.

use base64::Engine;
use portcullis_sdk::host::{HttpRequest, http_send};
use serde::Deserialize;
use serde_json::{Map, Value};

/// `introspection` settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionSettings {
    /// The introspection endpoint; its origin must be in `http_allow`.
    pub url: String,
    /// The gateway's client id at the authorization server.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Its secret (e.g. `"env:INTROSPECTION_SECRET"`).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Accepted `aud` values; empty: not checked.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Longest an answer is reused, in seconds (never past the token's `exp`).
    #[serde(default = "default_cache_ttl_s")]
    pub cache_ttl_s: u64,
    /// Give up after this long; the request then gets 503.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u32,
}

fn default_cache_ttl_s() -> u64 {
    60
}

fn default_timeout_ms() -> u32 {
    1000
}

/// A configured introspection endpoint.
pub struct Introspection {
    url: String,
    authorization: Option<String>,
    /// Accepted audiences.
    pub audiences: Vec<String>,
    /// Cache bound, seconds.
    pub cache_ttl_s: u64,
    timeout_ms: u32,
}

/// What the endpoint said.
pub enum Answer {
    /// Active, with these fields.
    Active(Map<String, Value>),
    /// Not active (unknown, expired, revoked).
    Inactive,
    /// No usable answer; the text is for logs.
    Unavailable(String),
}

impl Introspection {
    /// Check settings.
    pub fn compile(settings: &IntrospectionSettings) -> Result<Self, String> {
        if !(settings.url.starts_with("https://") || settings.url.starts_with("http://")) {
            return Err("introspection.url: must be an http(s) URL".into());
        }
        if settings.timeout_ms == 0 {
            return Err("introspection.timeout_ms: must be at least 1".into());
        }
        let authorization = match (&settings.client_id, &settings.client_secret) {
            (Some(id), Some(secret)) => {
                // RFC 6749 section 2.3.1: form-encode, then Basic.
                let pair = format!("{}:{}", form_encode(id), form_encode(secret));
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
            (None, None) => None,
            _ => {
                return Err(
                    "introspection: give both client_id and client_secret, or neither".into(),
                );
            }
        };
        Ok(Self {
            url: settings.url.clone(),
            authorization,
            audiences: settings.audiences.clone(),
            cache_ttl_s: settings.cache_ttl_s,
            timeout_ms: settings.timeout_ms,
        })
    }

    /// Ask about `token`.
    pub fn ask(&self, token: &str) -> Answer {
        let mut headers = vec![
            (
                "content-type".to_string(),
                "application/x-www-form-urlencoded".to_string(),
            ),
            ("accept".to_string(), "application/json".to_string()),
        ];
        if let Some(authorization) = &self.authorization {
            headers.push(("authorization".into(), authorization.clone()));
        }
        let body = format!("token={}&token_type_hint=access_token", form_encode(token));
        let response = match http_send(&HttpRequest {
            method: "POST".into(),
            url: self.url.clone(),
            headers,
            body: body.into_bytes(),
            timeout_ms: self.timeout_ms,
        }) {
            Ok(response) => response,
            Err(e) => return Answer::Unavailable(format!("{e:?}")),
        };
        if response.status != 200 {
            return Answer::Unavailable(format!("status {}", response.status));
        }
        let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&response.body) else {
            return Answer::Unavailable("the answer is not a JSON object".into());
        };
        match fields.get("active") {
            Some(Value::Bool(true)) => Answer::Active(fields),
            Some(Value::Bool(false)) => Answer::Inactive,
            _ => Answer::Unavailable("no boolean `active`".into()),
        }
    }

    /// Whether an active token's fields pass `exp`, `nbf` and the audience
    /// at `now` with `leeway_s`.
    pub fn accepts(&self, fields: &Map<String, Value>, now: u64, leeway_s: u64) -> bool {
        let time = |name: &str| fields.get(name).and_then(Value::as_f64).map(|t| t as u64);
        if time("exp").is_some_and(|exp| now >= exp.saturating_add(leeway_s)) {
            return false;
        }
        if time("nbf").is_some_and(|nbf| nbf > now.saturating_add(leeway_s)) {
            return false;
        }
        if self.audiences.is_empty() {
            return true;
        }
        match fields.get("aud") {
            Some(Value::String(aud)) => self.audiences.contains(aud),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .any(|aud| self.audiences.iter().any(|a| a == aud)),
            _ => false,
        }
    }

    /// Until when (Unix seconds) an answer about a token may be reused.
    pub fn cache_until(&self, fields: &Map<String, Value>, now: u64) -> u64 {
        let bound = now.saturating_add(self.cache_ttl_s);
        // NumericDate may be fractional: round down, never past expiry.
        match fields
            .get("exp")
            .and_then(Value::as_f64)
            .filter(|t| t.is_finite() && *t >= 0.0)
        {
            Some(exp) => (exp as u64).min(bound),
            None => bound,
        }
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(byte as char);
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn endpoint(audiences: &[&str]) -> Introspection {
        Introspection::compile(&IntrospectionSettings {
            url: "https://idp.test/introspect".into(),
            client_id: Some("gw id".into()),
            client_secret: Some("s:cret".into()),
            audiences: audiences.iter().map(|a| a.to_string()).collect(),
            cache_ttl_s: 60,
            timeout_ms: 1000,
        })
        .expect("settings")
    }

    #[test]
    fn client_credentials_are_form_encoded_before_basic() {
        let expected = base64::engine::general_purpose::STANDARD.encode("gw+id:s%3Acret");
        assert_eq!(
            endpoint(&[]).authorization,
            Some(format!("Basic {expected}"))
        );
    }

    #[test]
    fn active_answers_are_still_checked_for_time_and_audience() {
        let endpoint = endpoint(&["orders-api"]);
        let fields = |value: Value| value.as_object().cloned().expect("object");
        let good = fields(json!({"active": true, "aud": ["x", "orders-api"], "exp": 2000}));
        assert!(endpoint.accepts(&good, 1000, 0));
        assert!(!endpoint.accepts(&good, 2000, 0), "expired");
        let other = fields(json!({"active": true, "aud": "billing", "exp": 2000}));
        assert!(!endpoint.accepts(&other, 1000, 0));
        assert_eq!(endpoint.cache_until(&good, 1000), 1060);
        assert_eq!(endpoint.cache_until(&good, 1990), 2000);
    }
}
