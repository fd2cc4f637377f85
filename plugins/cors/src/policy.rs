//! The CORS policy of one route, and the headers it answers with.

use serde::Deserialize;

use crate::origins::Origins;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Exact origins (`https://app.example.com`), or `["*"]` for any.
    #[serde(default)]
    allow_origins: Vec<String>,
    /// Regular expressions, matched against the whole origin.
    #[serde(default)]
    allow_origin_patterns: Vec<String>,
    /// Methods a cross-origin request may use.
    #[serde(default = "default_methods")]
    allow_methods: Vec<String>,
    /// Request headers a cross-origin request may send (`*`: any).
    #[serde(default)]
    allow_headers: Vec<String>,
    /// Response headers scripts may read.
    #[serde(default)]
    expose_headers: Vec<String>,
    /// Whether cookies and credentials may be sent.
    #[serde(default)]
    allow_credentials: bool,
    /// How long browsers may cache a preflight, in seconds.
    max_age: Option<u32>,
}

fn default_methods() -> Vec<String> {
    ["GET", "HEAD", "POST"].map(String::from).to_vec()
}

/// A route's CORS policy.
#[derive(Debug)]
pub struct CorsPolicy {
    origins: Origins,
    methods: Vec<String>,
    methods_header: String,
    headers: Vec<String>,
    any_header: bool,
    expose: Option<String>,
    credentials: bool,
    max_age: Option<String>,
}

/// The answer to a preflight.
#[derive(Debug, PartialEq, Eq)]
pub enum Preflight {
    /// Allowed: 204 with these headers.
    Allowed(Vec<(String, String)>),
    /// Refused: 403, with these headers (`vary`).
    Refused(Vec<(String, String)>, &'static str),
}

/// The CORS headers a response can carry; the upstream's are replaced.
pub const RESPONSE_HEADERS: [&str; 6] = [
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-expose-headers",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
];

/// The `Vary` fields every response of a CORS route carries, since the
/// CORS headers depend on them.
pub const VARY: &str = "Origin";
const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

impl CorsPolicy {
    /// Parse and check settings (JSON).
    pub fn from_json(json: &str) -> Result<Self, String> {
        let settings: Settings = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if settings.allow_origins.is_empty() && settings.allow_origin_patterns.is_empty() {
            return Err("give `allow_origins` or `allow_origin_patterns`".into());
        }
        let origins = Origins::new(&settings.allow_origins, &settings.allow_origin_patterns)?;
        if origins.is_any() && settings.allow_credentials {
            return Err("allow_credentials cannot be used with allow_origins = [\"*\"]: browsers refuse it, and it would share credentialed responses with every site".into());
        }
        let methods: Vec<String> = settings
            .allow_methods
            .iter()
            .map(|m| m.to_ascii_uppercase())
            .collect();
        if let Some(bad) = methods
            .iter()
            .find(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()))
        {
            return Err(format!("allow_methods: `{bad}` is not a method"));
        }
        let any_header = settings.allow_headers.iter().any(|h| h == "*");
        let headers = settings
            .allow_headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        Ok(Self {
            origins,
            methods_header: methods.join(", "),
            methods,
            headers,
            any_header,
            expose: (!settings.expose_headers.is_empty())
                .then(|| settings.expose_headers.join(", ")),
            credentials: settings.allow_credentials,
            max_age: settings.max_age.map(|age| age.to_string()),
        })
    }

    /// The `access-control-allow-origin` value for `origin`, if allowed.
    fn allow_origin(&self, origin: &str) -> Option<String> {
        if !self.origins.allows(origin) {
            return None;
        }
        Some(if self.origins.is_any() {
            "*".into()
        } else {
            origin.to_string()
        })
    }

    /// Answer a preflight from `origin` asking for `method` and `headers`
    /// (the Access-Control-Request-Headers list).
    pub fn preflight(&self, origin: &str, method: &str, headers: Option<&str>) -> Preflight {
        let vary = vec![("vary".to_string(), PREFLIGHT_VARY.to_string())];
        let Some(allow_origin) = self.allow_origin(origin) else {
            return Preflight::Refused(vary, "cors-origin-not-allowed");
        };
        if !self.methods.iter().any(|m| m == method) {
            return Preflight::Refused(vary, "cors-method-not-allowed");
        }
        let requested: Vec<String> = headers
            .unwrap_or("")
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if !self.any_header && !requested.iter().all(|h| self.headers.contains(h)) {
            return Preflight::Refused(vary, "cors-header-not-allowed");
        }
        let mut answer = vary;
        answer.push(("access-control-allow-origin".into(), allow_origin));
        answer.push((
            "access-control-allow-methods".into(),
            self.methods_header.clone(),
        ));
        if !requested.is_empty() {
            // Echoing the checked list works with credentials, where a
            // literal `*` would not.
            answer.push(("access-control-allow-headers".into(), requested.join(", ")));
        }
        if self.credentials {
            answer.push(("access-control-allow-credentials".into(), "true".into()));
        }
        if let Some(age) = &self.max_age {
            answer.push(("access-control-max-age".into(), age.clone()));
        }
        Preflight::Allowed(answer)
    }

    /// The CORS headers for an actual response to a request from `origin`.
    pub fn response_headers(&self, origin: Option<&str>) -> Vec<(String, String)> {
        let Some(allow_origin) = origin.and_then(|o| self.allow_origin(o)) else {
            return Vec::new();
        };
        let mut headers = vec![("access-control-allow-origin".to_string(), allow_origin)];
        if self.credentials {
            headers.push(("access-control-allow-credentials".into(), "true".into()));
        }
        if let Some(expose) = &self.expose {
            headers.push(("access-control-expose-headers".into(), expose.clone()));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::{CorsPolicy, Preflight};

    fn policy(json: &str) -> CorsPolicy {
        CorsPolicy::from_json(json).expect("valid settings")
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn an_allowed_preflight_gets_the_policy_and_a_refused_one_only_vary() {
        let cors = policy(
            r#"{"allow_origins":["https://app.example.com"],"allow_methods":["GET","PUT"],"allow_headers":["Content-Type","X-Trace"],"allow_credentials":true,"max_age":600}"#,
        );
        let Preflight::Allowed(headers) = cors.preflight(
            "https://app.example.com",
            "PUT",
            Some("content-type, x-trace"),
        ) else {
            panic!("allowed")
        };
        assert_eq!(
            header(&headers, "access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert_eq!(
            header(&headers, "access-control-allow-methods"),
            Some("GET, PUT")
        );
        assert_eq!(
            header(&headers, "access-control-allow-headers"),
            Some("content-type, x-trace")
        );
        assert_eq!(
            header(&headers, "access-control-allow-credentials"),
            Some("true")
        );
        assert_eq!(header(&headers, "access-control-max-age"), Some("600"));
        assert!(header(&headers, "vary").is_some_and(|v| v.contains("Origin")));

        assert!(matches!(
            cors.preflight("https://evil.test", "PUT", None),
            Preflight::Refused(_, "cors-origin-not-allowed")
        ));
        assert!(matches!(
            cors.preflight("https://app.example.com", "DELETE", None),
            Preflight::Refused(_, "cors-method-not-allowed")
        ));
        assert!(matches!(
            cors.preflight("https://app.example.com", "PUT", Some("x-admin")),
            Preflight::Refused(_, "cors-header-not-allowed")
        ));
    }

    #[test]
    fn the_wildcard_answers_star_and_never_with_credentials() {
        let cors = policy(r#"{"allow_origins":["*"]}"#);
        assert_eq!(
            cors.response_headers(Some("https://any.test")),
            vec![("access-control-allow-origin".into(), "*".into())]
        );
        assert!(
            CorsPolicy::from_json(r#"{"allow_origins":["*"],"allow_credentials":true}"#).is_err()
        );
        assert!(CorsPolicy::from_json(r#"{}"#).is_err());
    }

    #[test]
    fn responses_to_other_origins_carry_no_cors_headers() {
        let cors =
            policy(r#"{"allow_origins":["https://app.example.com"],"expose_headers":["X-Total"]}"#);
        assert!(cors.response_headers(Some("https://evil.test")).is_empty());
        assert!(cors.response_headers(None).is_empty());
        let headers = cors.response_headers(Some("https://app.example.com"));
        assert_eq!(
            header(&headers, "access-control-expose-headers"),
            Some("X-Total")
        );
    }
}
