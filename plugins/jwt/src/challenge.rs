//! Refusals as RFC 6750 describes them: 401 with a `WWW-Authenticate:
//! Bearer` challenge for a missing or bad token, 403 for too little scope,
//! 400 for a malformed request. Descriptions are fixed strings that tell an
//! attacker nothing about which check failed.

use portcullis_sdk::{Decision, Denial};

/// How a request is refused.
pub enum Challenge {
    /// No token: a bare challenge.
    Missing,
    /// Several tokens, or a header with another scheme.
    InvalidRequest,
    /// The token is expired.
    Expired,
    /// Any other token problem.
    InvalidToken,
    /// The token lacks these scopes.
    InsufficientScope(String),
    /// The token is good but its claims do not match the route's rules.
    Forbidden,
}

impl Challenge {
    /// The response, with `reason` for logs only.
    pub fn decision(&self, realm: &str, reason: &str) -> Decision {
        let (status, error, description, scope) = match self {
            Challenge::Missing => (401, None, "a bearer token is required", None),
            Challenge::InvalidRequest => (
                400,
                Some("invalid_request"),
                "the request carries the token more than once or malformed",
                None,
            ),
            Challenge::Expired => (401, Some("invalid_token"), "the token has expired", None),
            Challenge::InvalidToken => (401, Some("invalid_token"), "the token is not valid", None),
            Challenge::InsufficientScope(scope) => (
                403,
                Some("insufficient_scope"),
                "the token does not grant the required scope",
                Some(scope.as_str()),
            ),
            Challenge::Forbidden => (403, None, "access denied", None),
        };
        let mut challenge = format!("Bearer realm=\"{}\"", quoted(realm));
        if let Some(error) = error {
            challenge.push_str(&format!(
                ", error=\"{error}\", error_description=\"{description}\""
            ));
        }
        if let Some(scope) = scope {
            challenge.push_str(&format!(", scope=\"{}\"", quoted(scope)));
        }
        let body = serde_json::json!({
            "error": error.unwrap_or(if status == 403 { "forbidden" } else { "unauthorized" }),
            "error_description": description,
        });
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        if status != 403 || scope.is_some() {
            headers.push(("www-authenticate".to_string(), challenge));
        }
        Decision::Deny(Denial {
            status,
            headers,
            body: body.to_string().into_bytes(),
            reason: reason.to_string(),
        })
    }
}

/// `value` safe inside a quoted-string.
fn quoted(value: &str) -> String {
    value
        .chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}
