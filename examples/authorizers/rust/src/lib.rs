//! The example tenant authorizer, in Rust with the Portcullis SDK. The same
//! authorizer exists in every language under `examples/authorizers/`; the
//! rules (and `../cases.json`, which every version passes) are in
//! `../README.md`:
//!
//! - a client sends `x-tenant`, `x-timestamp` (Unix seconds) and
//!   `x-signature`, the lower-case hex HMAC-SHA256 under the shared secret
//!   of `METHOD \n PATH \n TIMESTAMP \n TENANT`;
//! - the request passes, as principal `TENANT` with context entry
//!   `tenant`, when the tenant is well formed, the timestamp within 300 s
//!   of now and the signature right; otherwise it gets 401, with reason
//!   `missing-credentials`, `bad-tenant`, `stale-timestamp` or
//!   `bad-signature`, checked in that order.

use hmac::{Hmac, Mac};
use portcullis_sdk::{Authorization, Context, Decision, Phase, Policy, Request, export_policy};
use serde::Deserialize;
use sha2::Sha256;

/// How far a timestamp may be from now, either way.
pub const SKEW_S: u64 = 300;

/// Settings, as JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// The shared secret (write it as `env:NAME` or `file:PATH` in the
    /// gateway config).
    secret: String,
}

/// A configured authorizer.
pub struct TenantAuthorizer {
    secret: Vec<u8>,
}

/// The credentials a request carries.
pub struct Credentials<'a> {
    /// `x-tenant`.
    pub tenant: &'a str,
    /// `x-timestamp`.
    pub timestamp: &'a str,
    /// `x-signature`.
    pub signature: &'a str,
}

impl TenantAuthorizer {
    /// Parse settings.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let settings: Settings = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if settings.secret.len() < 32 {
            return Err("secret: at least 32 bytes".into());
        }
        Ok(Self {
            secret: settings.secret.into_bytes(),
        })
    }

    /// Check `credentials` for `method` and `path` at `now` (Unix seconds);
    /// the refusal reason on failure.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        credentials: &Credentials<'_>,
        now: u64,
    ) -> Result<(), &'static str> {
        let Credentials {
            tenant,
            timestamp,
            signature,
        } = credentials;
        if tenant.is_empty() || timestamp.is_empty() || signature.is_empty() {
            return Err("missing-credentials");
        }
        if !well_formed_tenant(tenant) {
            return Err("bad-tenant");
        }
        let fresh = (1..=10).contains(&timestamp.len())
            && timestamp.bytes().all(|b| b.is_ascii_digit())
            && timestamp
                .parse::<u64>()
                .is_ok_and(|at| at.abs_diff(now) <= SKEW_S);
        if !fresh {
            return Err("stale-timestamp");
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).map_err(|_| "bad-signature")?;
        mac.update(format!("{method}\n{path}\n{timestamp}\n{tenant}").as_bytes());
        let expected = hex::encode(mac.finalize().into_bytes());
        if constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
            Ok(())
        } else {
            Err("bad-signature")
        }
    }
}

/// 1 to 63 of `a-z`, `0-9` and `-`, not starting with `-`.
fn well_formed_tenant(tenant: &str) -> bool {
    (1..=63).contains(&tenant.len())
        && !tenant.starts_with('-')
        && tenant
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Equal, in time that depends on the lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

impl Policy for TenantAuthorizer {
    const PHASES: &'static [Phase] = &[Phase::RequestHeaders];

    fn configure(config: &str) -> Result<Self, String> {
        TenantAuthorizer::from_json(config)
    }

    fn on_request(&self, _phase: Phase, request: &Request, _context: &Context) -> Decision {
        let tenant = request.header("x-tenant").unwrap_or_default();
        let timestamp = request.header("x-timestamp").unwrap_or_default();
        let signature = request.header("x-signature").unwrap_or_default();
        let credentials = Credentials {
            tenant: &tenant,
            timestamp: &timestamp,
            signature: &signature,
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let authorization = match self.check(&request.method(), &request.path(), &credentials, now)
        {
            Ok(()) => Authorization::allow(tenant.clone()).context("tenant", tenant),
            Err(reason) => Authorization::unauthorized(reason),
        };
        // The signature covers the method and path.
        authorization.resource_specific().into()
    }
}

export_policy!(TenantAuthorizer);

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "example-secret-for-tests-only-0123456789";

    /// From `../cases.json`, made with Python's hmac module:
    /// `hmac.new(SECRET, b"GET\n/orders\n1764288000\nacme", sha256)`.
    const SIGNATURE: &str = "65d0739d1584433eef1ae3178d05180b172e38f3d4de9eb7f631164bcb783d6d";

    fn authorizer() -> TenantAuthorizer {
        TenantAuthorizer::from_json(&format!(r#"{{"secret": "{SECRET}"}}"#)).expect("settings")
    }

    fn credentials<'a>(tenant: &'a str, signature: &'a str) -> Credentials<'a> {
        Credentials {
            tenant,
            timestamp: "1764288000",
            signature,
        }
    }

    #[test]
    fn a_signature_from_another_implementation_passes() {
        let signed = credentials("acme", SIGNATURE);
        assert_eq!(
            authorizer().check("GET", "/orders", &signed, 1_764_288_000),
            Ok(())
        );
        assert_eq!(
            authorizer().check("GET", "/orders", &signed, 1_764_288_301),
            Err("stale-timestamp")
        );
        assert_eq!(
            authorizer().check("GET", "/other", &signed, 1_764_288_000),
            Err("bad-signature")
        );
    }

    #[test]
    fn short_secrets_are_refused() {
        let error = TenantAuthorizer::from_json(r#"{"secret": "short"}"#)
            .err()
            .expect("refused");
        assert!(error.contains("32 bytes"), "{error}");
    }
}
