//! The Wycheproof JOSE signature vectors (`shared/corpora/wycheproof-jose`
//! beside the checkout)
//! through the plugin's signature verification: every `invalid` vector must
//! be refused, every `valid` one accepted unless its algorithm is one the
//! plugin does not support, in which case it must be refused too and is
//! listed here.

use std::path::PathBuf;
use std::str::FromStr;

use jsonwebtoken::Algorithm;
use portcullis_plugin_jwt::keys::parse_jwks;
use portcullis_plugin_jwt::verify::verify_jws;
use serde_json::{Value, json};

/// Valid vectors the plugin refuses, each for a stated reason:
/// - 347, 351: ES512 (`ES521` keys), which jsonwebtoken does not implement;
/// - 346, 350: signed PS384 with a key whose JWK pins `alg: PS256`; a key's
///   `alg` pins it here, so the mismatch is refused by design;
/// - 372, 373: marked valid in this copy of the corpus but carry a `?`
///   inside base64url, which no strict decoder accepts.
const REFUSED_VALID: &[u64] = &[346, 347, 350, 351, 372, 373];

/// Invalid vectors that are byte for byte a correctly signed JWS in this copy
/// of the corpus: 367 and 370 are named for base64 padding that is not
/// there (the same token as valid vectors with the same key and payload).
const CONTRADICTORY_INVALID: &[u64] = &[367, 370];

/// The corpus file: under `$PORTCULLIS_CORPORA`, or in `shared/corpora`
/// beside the checkout (or beside any folder above it). `None` when a
/// checkout has no corpora beside it (the data is not part of the repo);
/// `PORTCULLIS_CORPORA` set to a folder without it is an error.
fn corpus() -> Option<PathBuf> {
    let file = "wycheproof-jose/json_web_signature_test.json";
    if let Some(dir) = std::env::var_os("PORTCULLIS_CORPORA") {
        return Some(PathBuf::from(dir).join(file));
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("shared/corpora").join(file))
        .find(|candidate| candidate.is_file())
}

/// The algorithms pinned for a key: its own `alg`, or its whole family.
fn algorithms_for(key: &Value) -> Vec<Algorithm> {
    if let Some(alg) = key.get("alg").and_then(Value::as_str) {
        return Algorithm::from_str(alg).into_iter().collect();
    }
    let names: &[&str] = match key.get("kty").and_then(Value::as_str) {
        Some("RSA") => &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
        Some("EC") => &["ES256", "ES384"],
        Some("oct") => &["HS256", "HS384", "HS512"],
        Some("OKP") => &["EdDSA"],
        _ => &[],
    };
    names
        .iter()
        .filter_map(|n| Algorithm::from_str(n).ok())
        .collect()
}

#[test]
fn wycheproof_jws_vectors() {
    let Some(path) = corpus() else {
        eprintln!(
            "SKIPPED: no shared/corpora/wycheproof-jose beside this checkout; \
             set PORTCULLIS_CORPORA to run the Wycheproof vectors"
        );
        return;
    };
    let text = std::fs::read_to_string(&path).expect("read the Wycheproof JOSE corpus");
    let document: Value = serde_json::from_str(&text).expect("corpus JSON");
    let mut wrong = Vec::new();
    let mut unsupported = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    for group in document["testGroups"].as_array().expect("groups") {
        let key = group.get("public").unwrap_or(&group["private"]);
        let keys = parse_jwks(&json!({ "keys": [key] })).expect("jwks");
        let algorithms = algorithms_for(key);
        for test in group["tests"].as_array().expect("tests") {
            let id = test["tcId"].as_u64().expect("tcId");
            let jws = test["jws"].as_str().expect("compact JWS");
            let accepted = verify_jws(jws, &keys, &algorithms).is_ok();
            match test["result"].as_str() {
                Some("valid") => {
                    valid += 1;
                    if !accepted {
                        unsupported.push((id, key["alg"].clone()));
                    }
                }
                _ => {
                    invalid += 1;
                    if accepted && !CONTRADICTORY_INVALID.contains(&id) {
                        wrong.push((id, test["comment"].clone()));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "invalid vectors accepted: {wrong:?}");
    let unsupported_ids: Vec<u64> = unsupported.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        unsupported_ids, REFUSED_VALID,
        "valid vectors refused: {unsupported:?}"
    );
    assert!(
        valid >= 40 && invalid >= 350,
        "{valid} valid, {invalid} invalid"
    );
}
