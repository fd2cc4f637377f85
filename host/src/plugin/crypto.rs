//! The `crypto` capability: JWS signature checks with ring, natively.

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};

/// A JWS public-key algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// Ed25519.
    Ed25519,
}

/// A public key's parts, as a JWK gives them.
#[derive(Debug, Clone, Copy)]
pub enum PublicKey<'a> {
    /// RSA modulus and exponent, big-endian.
    Rsa {
        /// Modulus.
        n: &'a [u8],
        /// Exponent.
        e: &'a [u8],
    },
    /// A curve point's coordinates, big-endian, full width.
    Ec {
        /// x.
        x: &'a [u8],
        /// y.
        y: &'a [u8],
    },
    /// An Ed25519 key.
    Ed25519(&'a [u8]),
}

/// Whether `signature` of `message` verifies under `key` with `algorithm`.
pub fn verify(algorithm: Algorithm, key: PublicKey<'_>, message: &[u8], signature: &[u8]) -> bool {
    match (algorithm, key) {
        (rsa, PublicKey::Rsa { n, e }) => {
            let params: &signature::RsaParameters = match rsa {
                Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                Algorithm::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                Algorithm::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                Algorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
                Algorithm::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
                Algorithm::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
                _ => return false,
            };
            // JWKs may carry leading zero bytes; ring wants minimal integers.
            let components = RsaPublicKeyComponents {
                n: strip_leading_zeros(n),
                e: strip_leading_zeros(e),
            };
            components.verify(params, message, signature).is_ok()
        }
        (Algorithm::Es256, PublicKey::Ec { x, y }) if x.len() == 32 && y.len() == 32 => {
            check_point(
                &signature::ECDSA_P256_SHA256_FIXED,
                x,
                y,
                message,
                signature,
            )
        }
        (Algorithm::Es384, PublicKey::Ec { x, y }) if x.len() == 48 && y.len() == 48 => {
            check_point(
                &signature::ECDSA_P384_SHA384_FIXED,
                x,
                y,
                message,
                signature,
            )
        }
        (Algorithm::Ed25519, PublicKey::Ed25519(x)) if x.len() == 32 => {
            UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(message, signature)
                .is_ok()
        }
        _ => false,
    }
}

fn check_point(
    algorithm: &'static dyn VerificationAlgorithm,
    x: &[u8],
    y: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    let mut point = Vec::with_capacity(1 + x.len() + y.len());
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    UnparsedPublicKey::new(algorithm, point)
        .verify(message, signature)
        .is_ok()
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    #[test]
    fn es256_and_ed25519_signatures_verify_and_tampering_fails() {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("key");
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("key");
        let point = pair.public_key().as_ref();
        let key = PublicKey::Ec {
            x: &point[1..33],
            y: &point[33..65],
        };
        let signed = pair.sign(&rng, b"message").expect("sign");
        assert!(verify(Algorithm::Es256, key, b"message", signed.as_ref()));
        assert!(!verify(Algorithm::Es256, key, b"massage", signed.as_ref()));
        assert!(!verify(Algorithm::Es384, key, b"message", signed.as_ref()));
        assert!(!verify(Algorithm::Rs256, key, b"message", signed.as_ref()));

        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("key");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key");
        let key = PublicKey::Ed25519(pair.public_key().as_ref());
        let signed = pair.sign(b"message");
        assert!(verify(Algorithm::Ed25519, key, b"message", signed.as_ref()));
        assert!(!verify(Algorithm::Ed25519, key, b"other", signed.as_ref()));
    }

    #[test]
    fn leading_zeros_are_stripped_for_ring() {
        assert_eq!(strip_leading_zeros(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(strip_leading_zeros(&[0]), &[] as &[u8]);
    }
}
