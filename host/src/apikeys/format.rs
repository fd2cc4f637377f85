//! The key format, `pk_<id>_<secret>`: the id (12 hex digits) names the key
//! in lists, logs and revocations; the secret (32 random bytes, base64url)
//! is shown once at creation and never stored. What is stored is the
//! SHA-256 of the whole key, id prefix included.

use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

/// A freshly issued key.
pub struct Issued {
    /// Its id.
    pub id: String,
    /// The whole key, for the caller to hand out.
    pub key: String,
}

/// Why no key could be made.
#[derive(Debug, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomFailed;

/// A new key from the operating system's CSPRNG.
pub fn issue() -> Result<Issued, RandomFailed> {
    let random = SystemRandom::new();
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    random.fill(&mut id).map_err(|_| RandomFailed)?;
    random.fill(&mut secret).map_err(|_| RandomFailed)?;
    let id = hex::encode(id);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    Ok(Issued {
        key: format!("pk_{id}_{secret}"),
        id,
    })
}

/// The id of a presented key, if it has the key's shape.
pub fn id_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("pk_")?;
    let (id, secret) = rest.split_once('_')?;
    let shaped = id.len() == 12
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && !secret.is_empty();
    shaped.then_some(id)
}

/// What is stored for `key`.
pub fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_keys_have_their_id_inside_and_differ() {
        let a = issue().expect("random");
        let b = issue().expect("random");
        assert_eq!(id_of(&a.key), Some(a.id.as_str()));
        assert_ne!(a.key, b.key);
        assert_eq!(a.key.len(), "pk_".len() + 12 + 1 + 43);
    }

    #[test]
    fn other_shapes_have_no_id() {
        assert_eq!(id_of("pk_0123456789ab_secret"), Some("0123456789ab"));
        for key in [
            "",
            "pk_",
            "pk_0123_secret",
            "pk_0123456789AB_s",
            "sk_0123456789ab_s",
            "pk_0123456789ab_",
        ] {
            assert_eq!(id_of(key), None, "{key}");
        }
    }
}
