//! Token verification: header checks, issuer and key choice, signature and
//! registered claims. Nothing here trusts a header field to pick a key
//! source or an algorithm the issuer did not pin.

use jsonwebtoken::{Algorithm, crypto, decode_header};
use serde_json::{Map, Value};

use crate::keys::{Issuer, Key};

/// Why a token was refused. The variants are for logs and tests; the client
/// sees only `expired` or `invalid` (RFC 6750 `invalid_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not three base64url parts of JSON.
    Malformed,
    /// `alg` not pinned by the issuer (including `none`).
    Algorithm,
    /// A header field that would pick keys from the token itself (`jku`,
    /// `x5u`, `jwk`, `x5c`) or a `crit` extension.
    Header,
    /// `iss` missing or not a configured issuer.
    Issuer,
    /// No key with this `kid`, or none for this algorithm.
    UnknownKey,
    /// The signature does not verify.
    Signature,
    /// `exp` passed.
    Expired,
    /// `nbf` or `iat` in the future, wrong `aud`, a required claim missing.
    Claims,
}

impl Refusal {
    /// A short reason for logs.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed-token",
            Refusal::Algorithm => "algorithm-not-allowed",
            Refusal::Header => "forbidden-header",
            Refusal::Issuer => "unknown-issuer",
            Refusal::UnknownKey => "unknown-key",
            Refusal::Signature => "bad-signature",
            Refusal::Expired => "token-expired",
            Refusal::Claims => "claims-rejected",
        }
    }
}

/// Checks one signature. The plugin asks the host's native crypto
/// ([`crate::host_crypto::HostCrypto`]); natively, tests and benches use
/// jsonwebtoken's ([`InGuest`]).
pub trait SignatureCheck {
    /// Whether `signature` (base64url, as in the token) of `message`
    /// verifies under `key` with `alg`.
    fn check(&self, alg: Algorithm, key: &Key, message: &[u8], signature: &str) -> bool;
}

/// jsonwebtoken's verification, in the plugin's own code.
pub struct InGuest;

impl SignatureCheck for InGuest {
    fn check(&self, alg: Algorithm, key: &Key, message: &[u8], signature: &str) -> bool {
        matches!(crypto::verify(signature, message, &key.key, alg), Ok(true))
    }
}

/// Header fields that make the token name its own key or demand
/// processing this plugin does not do.
const FORBIDDEN_HEADER_FIELDS: &[&str] = &["jku", "x5u", "jwk", "x5c", "crit"];

/// Verify a JWT against `issuers` at `now` (Unix seconds): the signature
/// with [`verify_jws`], then `iss`, `aud`, `exp`, `nbf` and `iat` with
/// `leeway_s`. The claims on success.
pub fn verify(
    token: &str,
    issuers: &[Issuer],
    leeway_s: u64,
    now: u64,
    signatures: &dyn SignatureCheck,
) -> Result<Map<String, Value>, Refusal> {
    let (_, unverified) = split(token)?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&unverified).map_err(|_| Refusal::Malformed)?;
    let issuer_name = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(Refusal::Issuer)?;
    let issuer = issuers
        .iter()
        .find(|i| i.name == issuer_name)
        .ok_or(Refusal::Issuer)?;
    let kid = decode_header(token).ok().and_then(|header| header.kid);
    let keys = issuer.keys.get(kid.as_deref(), now.saturating_mul(1000));
    verify_jws(token, &keys, &issuer.algorithms, signatures)?;
    check_claims(&claims, issuer, leeway_s, now)?;
    Ok(claims)
}

/// Verify a compact JWS signature with one of `keys`, for one of the pinned
/// `algorithms`; the payload is not interpreted.
pub fn verify_jws(
    token: &str,
    keys: &[Key],
    algorithms: &[Algorithm],
    signatures: &dyn SignatureCheck,
) -> Result<(), Refusal> {
    let (raw_header, _) = split(token)?;
    let raw_header: Map<String, Value> =
        serde_json::from_slice(&raw_header).map_err(|_| Refusal::Malformed)?;
    if FORBIDDEN_HEADER_FIELDS
        .iter()
        .any(|field| raw_header.contains_key(*field))
    {
        return Err(Refusal::Header);
    }
    // `alg: none` and unknown algorithms fail here.
    let header = decode_header(token).map_err(|_| Refusal::Algorithm)?;
    if !algorithms.contains(&header.alg) {
        return Err(Refusal::Algorithm);
    }
    let candidates = keys
        .iter()
        .filter(|key| fits(key, header.alg))
        .filter(|key| header.kid.is_none() || key.kid == header.kid);
    let (message, signature) = token.rsplit_once('.').ok_or(Refusal::Malformed)?;
    let mut any_key = false;
    for key in candidates {
        any_key = true;
        if signatures.check(header.alg, key, message.as_bytes(), signature) {
            return Ok(());
        }
    }
    Err(if any_key {
        Refusal::Signature
    } else {
        Refusal::UnknownKey
    })
}

/// `exp` (required), `nbf`, `iat`, `aud` and the issuer's audiences.
fn check_claims(
    claims: &Map<String, Value>,
    issuer: &Issuer,
    leeway_s: u64,
    now: u64,
) -> Result<(), Refusal> {
    let time = |name: &str| -> Result<Option<u64>, Refusal> {
        match claims.get(name) {
            None => Ok(None),
            // NumericDate: seconds, possibly fractional.
            Some(value) => value
                .as_f64()
                .filter(|t| t.is_finite() && *t >= 0.0)
                .map(|t| Some(t as u64))
                .ok_or(Refusal::Claims),
        }
    };
    let exp = time("exp")?.ok_or(Refusal::Claims)?;
    if now >= exp.saturating_add(leeway_s) {
        return Err(Refusal::Expired);
    }
    if let Some(nbf) = time("nbf")?
        && nbf > now.saturating_add(leeway_s)
    {
        return Err(Refusal::Claims);
    }
    if let Some(iat) = time("iat")?
        && iat > now.saturating_add(leeway_s)
    {
        return Err(Refusal::Claims);
    }
    if !issuer.audiences.is_empty() {
        let accepted = match claims.get("aud") {
            Some(Value::String(aud)) => issuer.audiences.contains(aud),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .any(|aud| issuer.audiences.iter().any(|a| a == aud)),
            _ => false,
        };
        if !accepted {
            return Err(Refusal::Claims);
        }
    }
    Ok(())
}

/// Whether `key` may verify `alg`: same family, and the algorithm the
/// JWKS pinned for it, if any.
fn fits(key: &Key, alg: Algorithm) -> bool {
    key.key.family() == alg.family() && key.alg.is_none_or(|pinned| pinned == alg)
}

/// The decoded header and payload of a compact JWS (three parts).
fn split(token: &str) -> Result<(Vec<u8>, Vec<u8>), Refusal> {
    use base64::Engine;
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed);
    };
    let decode = |part: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| Refusal::Malformed)
    };
    Ok((decode(header)?, decode(payload)?))
}
