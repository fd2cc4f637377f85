//! Issuers compiled from settings: pinned algorithms, decoded keys and the
//! claim checks jsonwebtoken runs.

use std::str::FromStr;

use jsonwebtoken::jwk::{Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::settings::IssuerSettings;

/// A verification key.
pub struct Key {
    /// `kid`, if the JWKS gave one.
    pub kid: Option<String>,
    /// The one algorithm the JWKS pinned for this key, if it did.
    pub alg: Option<Algorithm>,
    /// The decoded key.
    pub key: DecodingKey,
}

/// A trusted issuer, ready to verify tokens.
pub struct Issuer {
    /// Its `iss`.
    pub name: String,
    /// Algorithms accepted in the token header.
    pub algorithms: Vec<Algorithm>,
    /// Its keys.
    pub keys: Vec<Key>,
    /// Accepted `aud` values (empty: not checked).
    pub audiences: Vec<String>,
}

impl Issuer {
    /// Compile one issuer's settings.
    pub fn compile(settings: &IssuerSettings) -> Result<Self, String> {
        let name = &settings.issuer;
        if settings.algorithms.is_empty() {
            return Err(format!("issuer {name:?}: give at least one algorithm"));
        }
        let mut algorithms = Vec::new();
        for alg in &settings.algorithms {
            let parsed = Algorithm::from_str(alg)
                .map_err(|_| format!("issuer {name:?}: unknown algorithm {alg:?}"))?;
            algorithms.push(parsed);
        }
        let hmac = algorithms.iter().filter(|a| is_hmac(**a)).count();
        if hmac > 0 && hmac < algorithms.len() {
            // One issuer, one kind of key: a shared secret next to public
            // keys invites algorithm confusion.
            return Err(format!(
                "issuer {name:?}: HS* algorithms cannot be mixed with public-key ones"
            ));
        }
        let keys = if hmac > 0 {
            let secret = settings.secret.as_deref().unwrap_or_default();
            if secret.len() < 32 {
                return Err(format!(
                    "issuer {name:?}: HS* needs `secret`, at least 32 bytes"
                ));
            }
            if settings.jwks.is_some() {
                return Err(format!("issuer {name:?}: HS* takes `secret`, not `jwks`"));
            }
            vec![Key {
                kid: None,
                alg: None,
                key: DecodingKey::from_secret(secret.as_bytes()),
            }]
        } else {
            if settings.secret.is_some() {
                return Err(format!(
                    "issuer {name:?}: `secret` is only for HS* algorithms"
                ));
            }
            let jwks = settings
                .jwks
                .as_ref()
                .ok_or_else(|| format!("issuer {name:?}: give `jwks`"))?;
            let keys = parse_jwks(jwks).map_err(|e| format!("issuer {name:?}: jwks: {e}"))?;
            if keys.is_empty() {
                return Err(format!("issuer {name:?}: jwks: no usable signing key"));
            }
            keys
        };

        Ok(Self {
            name: name.clone(),
            algorithms,
            keys,
            audiences: settings.audiences.clone(),
        })
    }
}

/// Whether `alg` is an HMAC algorithm.
pub fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// The signing keys of a JWKS (an object or its JSON text). Keys marked
/// for encryption (`use`, `key_ops`), and keys of kinds this plugin cannot
/// use, are skipped.
pub fn parse_jwks(jwks: &serde_json::Value) -> Result<Vec<Key>, String> {
    let document = match jwks {
        serde_json::Value::String(text) => {
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?
        }
        other => other.clone(),
    };
    let entries = document
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or("no `keys` array")?;
    let mut keys = Vec::new();
    for entry in entries {
        let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        if let Some(operations) = &jwk.common.key_operations
            && !operations.contains(&KeyOperations::Verify)
        {
            continue;
        }
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        let alg = jwk
            .common
            .key_algorithm
            .and_then(|a| Algorithm::from_str(&a.to_string()).ok());
        keys.push(Key {
            kid: jwk.common.key_id.clone(),
            alg,
            key,
        });
    }
    Ok(keys)
}
