//! Runs the Wycheproof JOSE signature vectors (`shared/corpora/wycheproof-jose`
//! beside the checkout) through `verify_jws` with a given signature check:
//! jsonwebtoken's in the plugin's own test, the host's native crypto in
//! the gateway's.

use std::path::PathBuf;
use std::str::FromStr;

use jsonwebtoken::Algorithm;
use portcullis_plugin_jwt::keys::parse_jwks;
use portcullis_plugin_jwt::verify::{SignatureCheck, verify_jws};
use serde_json::{Value, json};

/// Invalid vectors that are byte for byte a correctly signed JWS in this copy
/// of the corpus: 367 and 370 are named for base64 padding that is not
/// there (the same token as valid vectors with the same key and payload).
pub const CONTRADICTORY_INVALID: &[u64] = &[367, 370];

/// What a run found.
pub struct Outcome {
    /// Invalid vectors accepted (id, comment): must be empty.
    pub wrongly_accepted: Vec<(u64, Value)>,
    /// Valid vectors refused (id, the key's `alg`).
    pub refused_valid: Vec<(u64, Value)>,
    /// Valid vectors run.
    pub valid: usize,
    /// Invalid vectors run.
    pub invalid: usize,
}

/// The corpus file: under `$PORTCULLIS_CORPORA`, or in `shared/corpora`
/// beside the checkout (or beside any folder above it). `None` when a
/// checkout has no corpora beside it (the data is not part of the repo);
/// `PORTCULLIS_CORPORA` set to a folder without it is an error.
pub fn corpus() -> Option<PathBuf> {
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

/// Run every vector with `check`; `None` when the corpus is absent (said
/// loudly on stderr).
pub fn run(check: &dyn SignatureCheck) -> Option<Outcome> {
    let Some(path) = corpus() else {
        eprintln!(
            "SKIPPED: no shared/corpora/wycheproof-jose beside this checkout; \
             set PORTCULLIS_CORPORA to run the Wycheproof vectors"
        );
        return None;
    };
    let text = std::fs::read_to_string(&path).expect("read the Wycheproof JOSE corpus");
    let document: Value = serde_json::from_str(&text).expect("corpus JSON");
    let mut outcome = Outcome {
        wrongly_accepted: Vec::new(),
        refused_valid: Vec::new(),
        valid: 0,
        invalid: 0,
    };
    for group in document["testGroups"].as_array().expect("groups") {
        let key = group.get("public").unwrap_or(&group["private"]);
        let keys = parse_jwks(&json!({ "keys": [key] })).expect("jwks");
        let algorithms = algorithms_for(key);
        for test in group["tests"].as_array().expect("tests") {
            let id = test["tcId"].as_u64().expect("tcId");
            let jws = test["jws"].as_str().expect("compact JWS");
            let accepted = verify_jws(jws, &keys, &algorithms, check).is_ok();
            match test["result"].as_str() {
                Some("valid") => {
                    outcome.valid += 1;
                    if !accepted {
                        outcome.refused_valid.push((id, key["alg"].clone()));
                    }
                }
                _ => {
                    outcome.invalid += 1;
                    if accepted && !CONTRADICTORY_INVALID.contains(&id) {
                        outcome.wrongly_accepted.push((id, test["comment"].clone()));
                    }
                }
            }
        }
    }
    Some(outcome)
}

/// Run every vector with `check` and assert the outcome: no invalid vector
/// accepted, exactly `refused_valid` valid ones refused. Skips (loudly)
/// when the corpus is absent.
pub fn assert_vectors(check: &dyn SignatureCheck, refused_valid: &[u64]) {
    let Some(outcome) = run(check) else {
        return;
    };
    assert!(
        outcome.wrongly_accepted.is_empty(),
        "invalid vectors accepted: {:?}",
        outcome.wrongly_accepted
    );
    let refused: Vec<u64> = outcome.refused_valid.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        refused, refused_valid,
        "valid vectors refused: {:?}",
        outcome.refused_valid
    );
    assert!(
        outcome.valid >= 40 && outcome.invalid >= 350,
        "{} valid, {} invalid",
        outcome.valid,
        outcome.invalid
    );
}
