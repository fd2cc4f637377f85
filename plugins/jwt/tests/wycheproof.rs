//! The Wycheproof JOSE signature vectors through the plugin's signature
//! verification with jsonwebtoken's crypto: every `invalid` vector must be
//! refused, every `valid` one accepted unless its algorithm is one the
//! plugin does not support, in which case it must be refused too and is
//! listed here. (The gateway's e2e tests run the same vectors through the
//! host's native crypto, which the plugin uses in production.)

#[path = "common/wycheproof.rs"]
mod vectors;

use portcullis_plugin_jwt::verify::InGuest;

/// Valid vectors the plugin refuses, each for a stated reason:
/// - 347, 351: ES512 (`ES521` keys), which jsonwebtoken does not implement;
/// - 346, 350: signed PS384 with a key whose JWK pins `alg: PS256`; a key's
///   `alg` pins it here, so the mismatch is refused by design;
/// - 372, 373: marked valid in this copy of the corpus but carry a `?`
///   inside base64url, which no strict decoder accepts.
const REFUSED_VALID: &[u64] = &[346, 347, 350, 351, 372, 373];

#[test]
fn wycheproof_jws_vectors() {
    vectors::assert_vectors(&InGuest, REFUSED_VALID);
}
