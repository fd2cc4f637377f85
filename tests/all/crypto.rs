//! The host's `crypto` capability, which the jwt plugin verifies
//! public-key signatures with, through the Wycheproof JOSE vectors: the
//! same runner and expectations as the plugin's own jsonwebtoken test.

#[path = "../../plugins/jwt/tests/common/wycheproof.rs"]
mod vectors;

use crate::support::ring_check::RingCheck;

/// Valid vectors the host refuses, each for a stated reason:
/// - 347, 351: ES512, which the host does not offer (nor jsonwebtoken);
/// - 346, 350: signed PS384 with a key whose JWK pins `alg: PS256`;
/// - 372, 373: a `?` inside base64url, which no strict decoder accepts.
const REFUSED_VALID: &[u64] = &[346, 347, 350, 351, 372, 373];

#[test]
fn wycheproof_jws_vectors_through_the_host_crypto() {
    vectors::assert_vectors(&RingCheck, REFUSED_VALID);
}
