//! `ext-authz`: asks an external HTTP service whether a request may pass,
//! like Envoy's `ext_authz` (HTTP mode) or nginx's `auth_request`. The
//! service gets `GET url` with the chosen request headers and
//! `x-original-method`, `x-original-uri` and `x-forwarded-for`; a 2xx
//! allows, 401 and 403 refuse with that status, anything else (or no
//! answer in time) refuses with `status_on_error`: the plugin fails closed.
//! Run it with `role = "authorizer"` to have the gateway cache its answers:
//! they are marked resource-specific (the service saw the method and URI),
//! and the fail-closed answer is marked `Cache-Control: no-store`, so an
//! outage is not remembered as a refusal.

mod settings;

use portcullis_sdk::host::{HttpRequest, HttpResponse, http_send, log_warn};
use portcullis_sdk::{Context, Decision, Edit, Phase, Policy, Request, export_policy};

/// How the gateway learns a decision holds only for this method and path
/// (see the SDK's `Authorization::resource_specific`).
const RESOURCE_SPECIFIC_ENTRY: &str = "portcullis.resource-specific";
const RESOURCE_SPECIFIC_HEADER: &str = "portcullis-resource-specific";

/// Headers the host sets on the outbound request itself.
const HOST_MANAGED: &[&str] = &[
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "te",
    "upgrade",
    "keep-alive",
    "proxy-connection",
    "trailer",
];

use settings::Settings;

/// A configured `ext-authz` instance.
pub struct ExtAuthz {
    settings: Settings,
}

impl ExtAuthz {
    /// Parse and check settings.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let mut settings: Settings = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if !(settings.url.starts_with("https://") || settings.url.starts_with("http://")) {
            return Err("url: must be an http(s) URL".into());
        }
        if !matches!(settings.status_on_error, 403 | 503) {
            return Err("status_on_error: 403 or 503".into());
        }
        if settings.timeout_ms == 0 {
            return Err("timeout_ms: must be at least 1".into());
        }
        for list in [&mut settings.send_headers, &mut settings.upstream_headers] {
            for name in list.iter_mut() {
                *name = name.to_ascii_lowercase();
            }
        }
        if let Some(name) = &mut settings.principal_header {
            *name = name.to_ascii_lowercase();
        }
        if let Some(name) = settings
            .send_headers
            .iter()
            .find(|name| HOST_MANAGED.contains(&name.as_str()) || name.starts_with("x-original-"))
        {
            return Err(format!("send_headers: {name:?} is set by the gateway"));
        }
        Ok(Self { settings })
    }

    /// The check request for `request`.
    fn check_request(&self, request: &Request) -> HttpRequest {
        let mut headers = Vec::new();
        for name in &self.settings.send_headers {
            for value in request.header_all(name) {
                headers.push((name.clone(), value));
            }
        }
        let uri = match request.query() {
            Some(query) => format!("{}?{query}", request.path()),
            None => request.path(),
        };
        headers.push(("x-original-method".into(), request.method()));
        headers.push(("x-original-uri".into(), uri));
        headers.push(("x-forwarded-for".into(), request.client_ip()));
        HttpRequest {
            method: "GET".into(),
            url: self.settings.url.clone(),
            headers,
            body: Vec::new(),
            timeout_ms: self.settings.timeout_ms,
        }
    }

    /// What the service's answer means for the request.
    fn judge(&self, answer: &HttpResponse) -> Decision {
        match answer.status {
            200..=299 => {
                let mut edits = Vec::new();
                if let Some(name) = &self.settings.principal_header {
                    match answer.header(name) {
                        Some(principal) if !principal.is_empty() => {
                            edits.push(Edit::SetPrincipal(principal.to_string()));
                        }
                        // An allow that names no one cannot authenticate.
                        _ => return self.unavailable("allow-without-principal"),
                    }
                }
                for name in &self.settings.upstream_headers {
                    edits.push(match answer.header(name) {
                        Some(value) => Edit::SetHeader((name.clone(), value.to_string())),
                        None => Edit::RemoveHeader(name.clone()),
                    });
                }
                edits.push(Edit::SetEntry((
                    RESOURCE_SPECIFIC_ENTRY.into(),
                    "true".into(),
                )));
                Decision::allow_with(edits)
            }
            401 => {
                let mut decision = Decision::deny_json(401, "service-denied", "unauthorized");
                if let (Decision::Deny(denial), Some(challenge)) =
                    (&mut decision, answer.header("www-authenticate"))
                {
                    denial
                        .headers
                        .push(("www-authenticate".into(), challenge.to_string()));
                }
                decision
            }
            403 => Decision::deny_json(403, "service-denied", "forbidden"),
            status => self.unavailable(&format!("service-status-{status}")),
        }
    }

    /// The fail-closed answer, never cached by the gateway.
    fn unavailable(&self, reason: &str) -> Decision {
        let status = self.settings.status_on_error;
        let message = if status == 503 {
            "service unavailable"
        } else {
            "forbidden"
        };
        let mut decision = Decision::deny_json(status, reason, message);
        if let Decision::Deny(denial) = &mut decision {
            denial
                .headers
                .push(("cache-control".into(), "no-store".into()));
        }
        decision
    }
}

impl Policy for ExtAuthz {
    const PHASES: &'static [Phase] = &[Phase::RequestHeaders];

    fn configure(config: &str) -> Result<Self, String> {
        ExtAuthz::from_json(config)
    }

    fn on_request(&self, _phase: Phase, request: &Request, _context: &Context) -> Decision {
        match http_send(&self.check_request(request)) {
            Ok(answer) => mark_resource_specific(self.judge(&answer)),
            Err(error) => {
                log_warn(&format!("authorization service: {error:?}"));
                self.unavailable("service-unreachable")
            }
        }
    }
}

/// Mark a denial resource-specific too (allows are marked in `judge`).
fn mark_resource_specific(mut decision: Decision) -> Decision {
    if let Decision::Deny(denial) = &mut decision {
        denial
            .headers
            .push((RESOURCE_SPECIFIC_HEADER.into(), "true".into()));
    }
    decision
}

export_policy!(ExtAuthz);

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(extra: &str) -> ExtAuthz {
        ExtAuthz::from_json(&format!(r#"{{"url": "http://127.0.0.1:9/check"{extra}}}"#))
            .expect("settings")
    }

    fn answer(status: u16, headers: &[(&str, &str)]) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn an_allow_copies_the_chosen_headers_and_removes_absent_ones() {
        let plugin = plugin(r#", "upstream_headers": ["X-User-Id", "x-tenant"]"#);
        let decision = plugin.judge(&answer(200, &[("x-user-id", "alice")]));
        assert_eq!(
            decision,
            Decision::Continue(vec![
                Edit::SetHeader(("x-user-id".into(), "alice".into())),
                Edit::RemoveHeader("x-tenant".into()),
                Edit::SetEntry((RESOURCE_SPECIFIC_ENTRY.into(), "true".into())),
            ])
        );
    }

    #[test]
    fn anything_but_allow_401_and_403_fails_closed() {
        let plugin = plugin(r#", "status_on_error": 503"#);
        for status in [301, 404, 500, 502] {
            let Decision::Deny(denial) = plugin.judge(&answer(status, &[])) else {
                panic!("{status} let the request through");
            };
            assert_eq!(denial.status, 503);
        }
        let Decision::Deny(denial) = plugin.judge(&answer(401, &[("www-authenticate", "Basic")]))
        else {
            panic!("401 let the request through");
        };
        assert_eq!(denial.status, 401);
        assert!(
            denial
                .headers
                .contains(&("www-authenticate".into(), "Basic".into()))
        );
    }

    #[test]
    fn an_allow_without_the_principal_header_is_refused() {
        let plugin = plugin(r#", "principal_header": "x-user-id""#);
        let Decision::Deny(denial) = plugin.judge(&answer(200, &[])) else {
            panic!("allowed without a principal");
        };
        assert_eq!(denial.status, 403);
    }

    #[test]
    fn settings_are_checked() {
        assert!(ExtAuthz::from_json(r#"{"url": "ftp://x"}"#).is_err());
        assert!(ExtAuthz::from_json(r#"{"url": "http://x", "status_on_error": 200}"#).is_err());
        assert!(ExtAuthz::from_json(r#"{"url": "http://x", "typo": 1}"#).is_err());
        assert!(ExtAuthz::from_json(r#"{"url": "http://x", "send_headers": ["Host"]}"#).is_err());
    }
}
