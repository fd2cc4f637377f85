//! What proves a component is the one the operator meant: a SHA-256 pin in
//! the config, and ed25519 signatures by trusted keys.
//!
//! Keys are PKCS#8 PEM files (`portcullis plugin keygen`, or `openssl
//! genpkey -algorithm ed25519`); public keys and signatures are written as
//! hex. A signature covers the component's bytes exactly.

use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a component is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SupplyChainError {
    /// Its digest is not the pinned one.
    #[error("the component's sha256 is {actual}, but the config pins {pinned}")]
    DigestMismatch {
        /// The config's.
        pinned: String,
        /// The file's.
        actual: String,
    },
    /// Signing is required and there is no signature file.
    #[error("signing is required and {0} does not exist (portcullis plugin sign)")]
    Unsigned(PathBuf),
    /// The signature file is not one.
    #[error("{0} is not an ed25519 signature (128 hex digits)")]
    Malformed(PathBuf),
    /// No trusted key made this signature for these bytes.
    #[error("{0} is not a valid signature of the component by any trusted key")]
    BadSignature(PathBuf),
    /// A key file could not be used.
    #[error("{0}")]
    Key(String),
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Refuse a component unless its digest (`actual`) is `pinned`.
pub fn check_pin(pinned: &str, actual: &str) -> Result<(), SupplyChainError> {
    if bool::from(actual.as_bytes().ct_eq(pinned.as_bytes())) {
        Ok(())
    } else {
        Err(SupplyChainError::DigestMismatch {
            pinned: pinned.to_string(),
            actual: actual.to_string(),
        })
    }
}

/// The signature file of the component at `component`: `PATH.sig`.
pub fn default_signature_path(component: &Path) -> PathBuf {
    let mut name = component.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// Whether `signature_file` holds a signature of `bytes` by one of
/// `trusted` (hex public keys). A missing file is `Unsigned`.
pub fn verify(
    bytes: &[u8],
    signature_file: &Path,
    trusted: &[String],
) -> Result<(), SupplyChainError> {
    let text = match std::fs::read_to_string(signature_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SupplyChainError::Unsigned(signature_file.to_path_buf()));
        }
        Err(e) => {
            return Err(SupplyChainError::Key(format!(
                "cannot read {}: {e}",
                signature_file.display()
            )));
        }
    };
    let signature = hex::decode(text.trim())
        .ok()
        .filter(|s| s.len() == 64)
        .ok_or_else(|| SupplyChainError::Malformed(signature_file.to_path_buf()))?;
    let valid = trusted
        .iter()
        .filter_map(|key| hex::decode(key).ok())
        .any(|key| {
            UnparsedPublicKey::new(&ED25519, key)
                .verify(bytes, &signature)
                .is_ok()
        });
    if valid {
        Ok(())
    } else {
        Err(SupplyChainError::BadSignature(signature_file.to_path_buf()))
    }
}

/// Whether `key` is 32 bytes as 64 lower-case hex digits: an ed25519
/// public key, or a SHA-256.
pub fn is_hex32(key: &str) -> bool {
    key.len() == 64
        && key
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// A new key pair: the PKCS#8 PEM private key and the hex public key.
pub fn generate_key() -> Result<(String, String), SupplyChainError> {
    let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| SupplyChainError::Key("the system random number generator failed".into()))?;
    let pair = Ed25519KeyPair::from_pkcs8(document.as_ref())
        .map_err(|_| SupplyChainError::Key("the generated key does not parse".into()))?;
    let pem = pem_encode("PRIVATE KEY", document.as_ref());
    Ok((pem, hex::encode(pair.public_key().as_ref())))
}

/// Sign `bytes` with the PKCS#8 PEM key in `key_file`; the hex signature
/// and the hex public key that checks it.
pub fn sign(bytes: &[u8], key_file: &Path) -> Result<(String, String), SupplyChainError> {
    let der = PrivatePkcs8KeyDer::from_pem_file(key_file).map_err(|e| {
        SupplyChainError::Key(format!(
            "{}: not a PKCS#8 PEM private key: {e}",
            key_file.display()
        ))
    })?;
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.secret_pkcs8_der()).map_err(|e| {
        SupplyChainError::Key(format!("{}: not an ed25519 key: {e}", key_file.display()))
    })?;
    Ok((
        hex::encode(pair.sign(bytes).as_ref()),
        hex::encode(pair.public_key().as_ref()),
    ))
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_matches_only_its_bytes() {
        let pin = digest(b"component");
        assert!(check_pin(&pin, &digest(b"component")).is_ok());
        assert!(matches!(
            check_pin(&pin, &digest(b"other")),
            Err(SupplyChainError::DigestMismatch { .. })
        ));
    }

    #[test]
    fn signatures_verify_only_for_their_bytes_and_trusted_keys() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key_file = dir.path().join("key.pem");
        let (pem, public) = generate_key().expect("key");
        std::fs::write(&key_file, pem).expect("write key");
        let (signature, signer) = sign(b"component", &key_file).expect("sign");
        assert_eq!(signer, public);
        assert!(is_hex32(&public));
        let sig_file = dir.path().join("c.wasm.sig");
        std::fs::write(&sig_file, &signature).expect("write sig");

        assert!(verify(b"component", &sig_file, std::slice::from_ref(&public)).is_ok());
        assert!(matches!(
            verify(b"tampered", &sig_file, std::slice::from_ref(&public)),
            Err(SupplyChainError::BadSignature(_))
        ));
        let (_, stranger) = generate_key().expect("key");
        assert!(matches!(
            verify(b"component", &sig_file, &[stranger]),
            Err(SupplyChainError::BadSignature(_))
        ));
        assert!(matches!(
            verify(b"component", &dir.path().join("none.sig"), &[public]),
            Err(SupplyChainError::Unsigned(_))
        ));
    }
}
