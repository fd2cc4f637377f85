//! A custom authorizer: clients sign each request with a shared secret.
//!
//! A client sends `x-key-id`, `x-timestamp` (Unix seconds) and
//! `x-signature`, the lower-case hex HMAC-SHA256 under its secret of
//!
//! ```text
//! METHOD \n PATH \n QUERY \n TIMESTAMP
//! ```
//!
//! The request is allowed, as principal `key-id`, when the signature is
//! right and the timestamp is within `window_s` of now. The signature
//! covers the method and path, so the decision is resource-specific.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use portcullis_sdk::{Authorization, Context, Decision, Phase, Policy, Request, export_policy};
use serde::Deserialize;
use sha2::Sha256;

/// Settings, as JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// key id → secret (write secrets as `env:NAME` or `file:PATH` in the
    /// gateway config).
    keys: BTreeMap<String, String>,
    /// How far the timestamp may be from now, in seconds.
    #[serde(default = "default_window_s")]
    window_s: u64,
}

fn default_window_s() -> u64 {
    300
}

/// A configured authorizer.
pub struct HmacAuthorizer {
    settings: Settings,
}

/// The signed parts of a request.
pub struct Signed<'a> {
    /// Method.
    pub method: &'a str,
    /// Path, as sent.
    pub path: &'a str,
    /// Query without `?`, empty for none.
    pub query: &'a str,
    /// `x-timestamp`.
    pub timestamp: &'a str,
}

impl Signed<'_> {
    /// The string the client signs.
    pub fn string_to_sign(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}",
            self.method, self.path, self.query, self.timestamp
        )
    }
}

/// Why a request is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No secret for the key id.
    UnknownKey,
    /// The timestamp is not a number, or outside the window.
    Stale,
    /// The signature is not hex or does not match.
    BadSignature,
}

impl HmacAuthorizer {
    /// Parse settings.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let settings: Settings = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if settings.keys.is_empty() {
            return Err("keys: give at least one".into());
        }
        if let Some((id, _)) = settings.keys.iter().find(|(_, secret)| secret.len() < 32) {
            return Err(format!("keys.{id}: a secret needs at least 32 bytes"));
        }
        Ok(Self { settings })
    }

    /// Check a signature made by `key_id` at `now` (Unix seconds).
    pub fn check(
        &self,
        key_id: &str,
        signed: &Signed<'_>,
        signature_hex: &str,
        now: u64,
    ) -> Result<(), Refusal> {
        let secret = self.settings.keys.get(key_id).ok_or(Refusal::UnknownKey)?;
        let timestamp: u64 = signed.timestamp.parse().map_err(|_| Refusal::Stale)?;
        if timestamp.abs_diff(now) > self.settings.window_s {
            return Err(Refusal::Stale);
        }
        let signature = hex::decode(signature_hex).map_err(|_| Refusal::BadSignature)?;
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| Refusal::UnknownKey)?;
        mac.update(signed.string_to_sign().as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&signature)
            .map_err(|_| Refusal::BadSignature)
    }
}

impl Policy for HmacAuthorizer {
    const PHASES: &'static [Phase] = &[Phase::RequestHeaders];

    fn configure(config: &str) -> Result<Self, String> {
        HmacAuthorizer::from_json(config)
    }

    fn on_request(&self, _phase: Phase, request: &Request, _context: &Context) -> Decision {
        // The gateway calls an authorizer only when every identity source
        // is present, so these are there; an empty one fails the check.
        let key_id = request.header("x-key-id").unwrap_or_default();
        let timestamp = request.header("x-timestamp").unwrap_or_default();
        let signature = request.header("x-signature").unwrap_or_default();
        let (method, path) = (request.method(), request.path());
        let query = request.query().unwrap_or_default();
        let signed = Signed {
            method: &method,
            path: &path,
            query: &query,
            timestamp: &timestamp,
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let authorization = match self.check(&key_id, &signed, &signature, now) {
            Ok(()) => Authorization::allow(key_id.clone()).context("key_id", key_id),
            Err(refusal) => Authorization::unauthorized(format!("{refusal:?}")),
        };
        authorization.resource_specific().into()
    }
}

export_policy!(HmacAuthorizer);

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn authorizer() -> HmacAuthorizer {
        HmacAuthorizer::from_json(&format!(
            r#"{{"keys": {{"client-1": "{SECRET}"}}, "window_s": 300}}"#
        ))
        .expect("settings")
    }

    fn signed(timestamp: &str) -> Signed<'_> {
        Signed {
            method: "GET",
            path: "/orders",
            query: "",
            timestamp,
        }
    }

    /// Computed independently:
    /// `printf 'GET\n/orders\n\n1700000000' | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef`
    const SIGNATURE: &str = "ea8f5aa00b127e3c37e225da5b03b0619bcbb62be6ad2a11da7dcd3e62f71cf6";

    #[test]
    fn a_request_signed_in_the_window_passes_and_others_do_not() {
        let authorizer = authorizer();
        let signed = signed("1700000000");
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
        mac.update(signed.string_to_sign().as_bytes());
        let good = hex::encode(mac.finalize().into_bytes());
        assert_eq!(
            authorizer.check("client-1", &signed, &good, 1_700_000_100),
            Ok(())
        );
        assert_eq!(
            authorizer.check("client-1", &signed, &good, 1_700_000_301),
            Err(Refusal::Stale)
        );
        assert_eq!(
            authorizer.check("client-2", &signed, &good, 1_700_000_000),
            Err(Refusal::UnknownKey)
        );
        let mut tampered = good.clone().into_bytes();
        tampered[0] = if tampered[0] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(tampered).expect("hex");
        assert_eq!(
            authorizer.check("client-1", &signed, &tampered, 1_700_000_000),
            Err(Refusal::BadSignature)
        );
    }

    #[test]
    fn signatures_match_openssl() {
        let signed = signed("1700000000");
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
        mac.update(signed.string_to_sign().as_bytes());
        assert_eq!(hex::encode(mac.finalize().into_bytes()), SIGNATURE);
    }

    #[test]
    fn short_secrets_are_refused() {
        let error = HmacAuthorizer::from_json(r#"{"keys": {"k": "short"}}"#)
            .err()
            .expect("refused");
        assert!(error.contains("32 bytes"), "{error}");
    }
}
