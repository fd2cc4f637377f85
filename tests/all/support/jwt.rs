//! Test tokens, signed with keys made at test time by ring (rustls' crypto),
//! an implementation independent of the jsonwebtoken code in the plugin.

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair};
use serde_json::{Value, json};

/// base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `base64url(header).base64url(claims)`: what a JWS signs.
fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

enum Pair {
    Ecdsa(signature::EcdsaKeyPair),
    Rsa(signature::RsaKeyPair),
    Ed25519(signature::Ed25519KeyPair),
}

/// A signing key with its `kid` and algorithm.
pub struct Signer {
    /// Its `kid`.
    pub kid: String,
    /// `ES256`, `RS256` or `EdDSA`.
    pub alg: &'static str,
    pair: Pair,
}

impl Signer {
    /// A fresh P-256 key.
    pub fn es256(kid: &str) -> Signer {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("generate P-256");
        let pair = signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("P-256");
        Signer {
            kid: kid.into(),
            alg: "ES256",
            pair: Pair::Ecdsa(pair),
        }
    }

    /// A fresh Ed25519 key.
    pub fn eddsa(kid: &str) -> Signer {
        let pkcs8 =
            signature::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("Ed25519");
        let pair = signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("Ed25519");
        Signer {
            kid: kid.into(),
            alg: "EdDSA",
            pair: Pair::Ed25519(pair),
        }
    }

    /// A fresh 2048-bit RSA key (made by the openssl CLI: ring cannot
    /// generate RSA keys).
    pub fn rs256(kid: &str) -> Signer {
        let output = Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ])
            .args(["-outform", "DER"])
            .output()
            .expect("run openssl genpkey");
        assert!(output.status.success(), "openssl genpkey failed");
        // OpenSSL writes RSA keys in DER as PKCS#1 RSAPrivateKey.
        let pair = signature::RsaKeyPair::from_der(&output.stdout).expect("RSA key");
        Signer {
            kid: kid.into(),
            alg: "RS256",
            pair: Pair::Rsa(pair),
        }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        match &self.pair {
            Pair::Ecdsa(pair) => {
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig",
                       "x": b64(&point[1..33]), "y": b64(&point[33..65])})
            }
            Pair::Rsa(pair) => {
                let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
                json!({"kty": "RSA", "kid": self.kid, "use": "sig",
                       "n": b64(&public.n), "e": b64(&public.e)})
            }
            Pair::Ed25519(pair) => {
                json!({"kty": "OKP", "crv": "Ed25519", "kid": self.kid, "use": "sig",
                       "x": b64(pair.public_key().as_ref())})
            }
        }
    }

    /// A token with the usual header (`alg`, `kid`, `typ`) and `claims`.
    pub fn token(&self, claims: &Value) -> String {
        self.sign(
            &json!({"alg": self.alg, "kid": self.kid, "typ": "JWT"}),
            claims,
        )
    }

    /// A token with any header, signed by this key whatever `alg` says.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let message = signing_input(header, claims);
        let rng = SystemRandom::new();
        let signature = match &self.pair {
            Pair::Ecdsa(pair) => pair
                .sign(&rng, message.as_bytes())
                .expect("sign")
                .as_ref()
                .to_vec(),
            Pair::Rsa(pair) => {
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    message.as_bytes(),
                    &mut out,
                )
                .expect("sign");
                out
            }
            Pair::Ed25519(pair) => pair.sign(message.as_bytes()).as_ref().to_vec(),
        };
        format!("{message}.{}", b64(&signature))
    }
}

/// An HS256 token signed with `secret`.
pub fn hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    let message = signing_input(header, claims);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, message.as_bytes());
    format!("{message}.{}", b64(tag.as_ref()))
}
