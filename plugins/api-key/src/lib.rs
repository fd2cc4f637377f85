//! `api-key`: requests carry a key issued by the gateway's admin API
//! (`pk_<id>_<secret>`) in a header or query parameter. The host checks it
//! (constant time, against stored hashes) and counts the request against
//! the consumer's usage plan; this plugin reads the key, turns the answer
//! into a decision, names the consumer as the principal and keeps the key
//! from the upstream.

use portcullis_sdk::host::{ApiKeyRefusal, api_key_check};
use portcullis_sdk::{Context, Decision, Denial, Edit, Phase, Policy, Request, export_policy};
use serde::Deserialize;

/// `settings` of an `api-key` plugin.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// `header` or `query`.
    #[serde(default = "default_from")]
    from: From,
    /// Header or query parameter name.
    #[serde(default = "default_name")]
    name: String,
    /// Remove the key from the request sent upstream.
    #[serde(default = "default_strip")]
    strip: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum From {
    Header,
    Query,
}

fn default_from() -> From {
    From::Header
}

fn default_name() -> String {
    "x-api-key".into()
}

fn default_strip() -> bool {
    true
}

/// A configured `api-key` instance.
pub struct ApiKey {
    settings: Settings,
}

impl ApiKey {
    /// Parse settings.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let mut settings: Settings = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if settings.name.is_empty() {
            return Err("name: must not be empty".into());
        }
        if settings.from == From::Header {
            settings.name = settings.name.to_ascii_lowercase();
        }
        Ok(Self { settings })
    }

    /// The presented key: `Err` when there are several.
    fn presented(&self, request: &Request) -> Result<Option<String>, ()> {
        let values = match self.settings.from {
            From::Header => request.header_all(&self.settings.name),
            From::Query => query_values(request.query().as_deref(), &self.settings.name),
        };
        match values.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.trim().to_string())),
            _ => Err(()),
        }
    }

    /// Edits removing the key from the request sent upstream.
    fn strip(&self, request: &Request) -> Vec<Edit> {
        if !self.settings.strip {
            return Vec::new();
        }
        match self.settings.from {
            From::Header => vec![Edit::RemoveHeader(self.settings.name.clone())],
            From::Query => vec![portcullis_sdk::query::strip_param(
                request,
                &self.settings.name,
            )],
        }
    }
}

/// Every value of query parameter `name`, as sent.
fn query_values(query: Option<&str>, name: &str) -> Vec<String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then(|| value.to_string())
        })
        .collect()
}

/// 401 with a small JSON body.
fn unauthorized(reason: &str, message: &str) -> Decision {
    let mut decision = Decision::deny_json(401, reason, message);
    if let Decision::Deny(denial) = &mut decision {
        denial
            .headers
            .push(("www-authenticate".into(), "ApiKey".into()));
    }
    decision
}

/// 429 saying when to come back: `Retry-After` (seconds, rounded up) and
/// the IETF `RateLimit-Policy` / `RateLimit` fields.
fn too_many(reason: &str, message: &str, policy: &str, retry_after_ms: u64) -> Decision {
    let seconds = retry_after_ms.div_ceil(1000).max(1);
    let name = policy.split(';').next().unwrap_or("\"plan\"");
    Decision::Deny(Denial {
        status: 429,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("retry-after".into(), seconds.to_string()),
            ("ratelimit-policy".into(), policy.to_string()),
            ("ratelimit".into(), format!("{name};r=0;t={seconds}")),
        ],
        body: format!("{{\"error\":\"{message}\"}}").into_bytes(),
        reason: reason.into(),
    })
}

impl Policy for ApiKey {
    const PHASES: &'static [Phase] = &[Phase::RequestHeaders];

    fn configure(config: &str) -> Result<Self, String> {
        ApiKey::from_json(config)
    }

    fn on_request(&self, _phase: Phase, request: &Request, _context: &Context) -> Decision {
        let key = match self.presented(request) {
            Ok(Some(key)) if !key.is_empty() => key,
            Ok(_) => return unauthorized("no-api-key", "api key required"),
            Err(()) => return unauthorized("several-api-keys", "invalid api key"),
        };
        match api_key_check(&key) {
            Ok(grant) => {
                let mut edits = vec![
                    Edit::SetPrincipal(grant.consumer.clone()),
                    Edit::SetEntry(("consumer".into(), grant.consumer)),
                    Edit::SetEntry(("api-key-id".into(), grant.key_id)),
                ];
                if let Some(plan) = grant.plan {
                    edits.push(Edit::SetEntry(("plan".into(), plan)));
                }
                if let Some(left) = grant.quota_remaining {
                    edits.push(Edit::SetEntry(("quota-remaining".into(), left.to_string())));
                }
                edits.extend(self.strip(request));
                Decision::allow_with(edits)
            }
            Err(ApiKeyRefusal::Invalid) => unauthorized("invalid-api-key", "invalid api key"),
            Err(ApiKeyRefusal::RateLimited(limit)) => too_many(
                "plan-rate-limited",
                "rate limit exceeded",
                &limit.policy,
                limit.retry_after_ms,
            ),
            Err(ApiKeyRefusal::QuotaExceeded(limit)) => too_many(
                "plan-quota-exceeded",
                "quota exceeded",
                &limit.policy,
                limit.retry_after_ms,
            ),
        }
    }
}

export_policy!(ApiKey);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_matched_by_exact_name() {
        assert_eq!(
            query_values(Some("a=1&api_key=k&api_key_x=2"), "api_key"),
            vec!["k".to_string()]
        );
        assert!(query_values(None, "api_key").is_empty());
    }

    #[test]
    fn a_429_says_when_to_retry() {
        let Decision::Deny(denial) =
            too_many("r", "quota exceeded", "\"gold-quota\";q=5;w=86400", 1500)
        else {
            panic!("not a denial");
        };
        assert_eq!(denial.status, 429);
        assert!(denial.headers.contains(&("retry-after".into(), "2".into())));
        assert!(
            denial
                .headers
                .contains(&("ratelimit".into(), "\"gold-quota\";r=0;t=2".into()))
        );
    }
}
