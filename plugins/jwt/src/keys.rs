//! Issuers compiled from settings: pinned algorithms, decoded keys and the
//! claim checks jsonwebtoken runs.

use std::str::FromStr;

use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use std::sync::Arc;

use crate::remote::{Location, RemoteKeys, Timing};
use crate::settings::IssuerSettings;

/// A verification key.
pub struct Key {
    /// `kid`, if the JWKS gave one.
    pub kid: Option<String>,
    /// The one algorithm the JWKS pinned for this key, if it did.
    pub alg: Option<Algorithm>,
    /// The decoded key.
    pub key: DecodingKey,
    /// Its public parts, for the host's native verification.
    pub public: Option<PublicParts>,
}

/// A public key's parts, decoded from its JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicParts {
    /// RSA modulus and exponent.
    Rsa {
        /// Modulus, big-endian.
        n: Vec<u8>,
        /// Exponent, big-endian.
        e: Vec<u8>,
    },
    /// A P-256 or P-384 point.
    Ec {
        /// x, big-endian.
        x: Vec<u8>,
        /// y, big-endian.
        y: Vec<u8>,
    },
    /// An Ed25519 key.
    Ed25519(Vec<u8>),
}

impl PublicParts {
    /// The parts of `jwk`, if it is a public key this plugin verifies with.
    fn of(jwk: &Jwk) -> Option<Self> {
        let decode = |text: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .ok()
        };
        match &jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => Some(PublicParts::Rsa {
                n: decode(&rsa.n)?,
                e: decode(&rsa.e)?,
            }),
            AlgorithmParameters::EllipticCurve(ec)
                if matches!(ec.curve, EllipticCurve::P256 | EllipticCurve::P384) =>
            {
                Some(PublicParts::Ec {
                    x: decode(&ec.x)?,
                    y: decode(&ec.y)?,
                })
            }
            AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
                Some(PublicParts::Ed25519(decode(&okp.x)?))
            }
            _ => None,
        }
    }
}

/// Where an issuer's keys come from.
pub enum KeySet {
    /// Given in the settings.
    Fixed(Arc<Vec<Key>>),
    /// Fetched from the issuer.
    Remote(RemoteKeys),
}

impl KeySet {
    /// The keys to check a token naming `kid` at `now_ms`.
    pub fn get(&self, kid: Option<&str>, now_ms: u64) -> Arc<Vec<Key>> {
        match self {
            KeySet::Fixed(keys) => keys.clone(),
            KeySet::Remote(remote) => remote.keys(kid, now_ms),
        }
    }
}

/// A trusted issuer, ready to verify tokens.
pub struct Issuer {
    /// Its `iss`.
    pub name: String,
    /// Algorithms accepted in the token header.
    pub algorithms: Vec<Algorithm>,
    /// Its keys.
    pub keys: KeySet,
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
            if settings.jwks.is_some() || settings.jwks_url.is_some() || settings.discovery {
                return Err(format!(
                    "issuer {name:?}: HS* takes `secret`, not `jwks`, `jwks_url` or `discovery`"
                ));
            }
            KeySet::Fixed(Arc::new(vec![Key {
                kid: None,
                alg: None,
                key: DecodingKey::from_secret(secret.as_bytes()),
                public: None,
            }]))
        } else {
            if settings.secret.is_some() {
                return Err(format!(
                    "issuer {name:?}: `secret` is only for HS* algorithms"
                ));
            }
            public_keys(settings)?
        };

        Ok(Self {
            name: name.clone(),
            algorithms,
            keys,
            audiences: settings.audiences.clone(),
        })
    }
}

/// The public keys of an issuer: exactly one of `jwks`, `jwks_url` and
/// `discovery`.
fn public_keys(settings: &IssuerSettings) -> Result<KeySet, String> {
    let name = &settings.issuer;
    let timing = Timing {
        cache_ms: settings.jwks_cache_s.saturating_mul(1000),
        min_refresh_ms: settings.jwks_min_refresh_s.saturating_mul(1000),
        max_stale_ms: settings.jwks_max_stale_s.saturating_mul(1000),
    };
    if timing.cache_ms == 0 {
        return Err(format!("issuer {name:?}: jwks_cache_s must be at least 1"));
    }
    match (&settings.jwks, &settings.jwks_url, settings.discovery) {
        (Some(jwks), None, false) => {
            let keys = parse_jwks(jwks).map_err(|e| format!("issuer {name:?}: jwks: {e}"))?;
            if keys.is_empty() {
                return Err(format!("issuer {name:?}: jwks: no usable signing key"));
            }
            Ok(KeySet::Fixed(Arc::new(keys)))
        }
        (None, Some(url), false) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(format!("issuer {name:?}: jwks_url must be an http(s) URL"));
            }
            Ok(KeySet::Remote(RemoteKeys::new(
                Location::Jwks(url.clone()),
                timing,
            )))
        }
        (None, None, true) => {
            if !name.starts_with("https://") && !name.starts_with("http://") {
                return Err(format!(
                    "issuer {name:?}: discovery needs an issuer that is an http(s) URL"
                ));
            }
            Ok(KeySet::Remote(RemoteKeys::new(
                Location::Discovery {
                    issuer: name.clone(),
                },
                timing,
            )))
        }
        _ => Err(format!(
            "issuer {name:?}: give exactly one of `jwks`, `jwks_url` and `discovery = true`"
        )),
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
            public: PublicParts::of(&jwk),
        });
    }
    Ok(keys)
}
