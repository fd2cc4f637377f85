//! The host's `crypto` capability called natively, as a signature check for
//! the jwt plugin's `verify_jws`: what the plugin gets from the host,
//! without the Wasm call around it.

use base64::Engine;
use portcullis_host::plugin::crypto::{Algorithm, PublicKey, verify};
use portcullis_plugin_jwt::keys::{Key, PublicParts};
use portcullis_plugin_jwt::verify::{InGuest, SignatureCheck};

/// The host's native verification; HS* stays in jsonwebtoken, as in the plugin.
pub struct RingCheck;

impl SignatureCheck for RingCheck {
    fn check(
        &self,
        alg: jsonwebtoken::Algorithm,
        key: &Key,
        message: &[u8],
        signature: &str,
    ) -> bool {
        use jsonwebtoken::Algorithm as Jws;
        let algorithm = match alg {
            Jws::RS256 => Algorithm::Rs256,
            Jws::RS384 => Algorithm::Rs384,
            Jws::RS512 => Algorithm::Rs512,
            Jws::PS256 => Algorithm::Ps256,
            Jws::PS384 => Algorithm::Ps384,
            Jws::PS512 => Algorithm::Ps512,
            Jws::ES256 => Algorithm::Es256,
            Jws::ES384 => Algorithm::Es384,
            Jws::EdDSA => Algorithm::Ed25519,
            _ => return InGuest.check(alg, key, message, signature),
        };
        let public = match key.public.as_ref() {
            Some(PublicParts::Rsa { n, e }) => PublicKey::Rsa { n, e },
            Some(PublicParts::Ec { x, y }) => PublicKey::Ec { x, y },
            Some(PublicParts::Ed25519(x)) => PublicKey::Ed25519(x),
            None => return InGuest.check(alg, key, message, signature),
        };
        let Ok(signature) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature)
        else {
            return false;
        };
        verify(algorithm, public, message, &signature)
    }
}
