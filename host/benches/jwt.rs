//! The cost of the jwt plugin: a request-headers call with a cached token
//! (beside a trivial plugin's call, the baseline), the same request
//! answered from the gateway's decision cache without a call, fresh ES256
//! and RS256 verifications in the plugin, and the same verifications
//! natively.

#[allow(dead_code)]
mod common;
#[path = "../../tests/all/support/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;
#[path = "../../tests/all/support/jwt.rs"]
#[allow(dead_code)]
mod jwt;
#[path = "../../tests/all/support/ring_check.rs"]
mod ring_check;

use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_host::plugin::PluginRuntime;
use portcullis_host::plugin::chain::Chain;
use portcullis_host::plugin::view::RequestView;
use portcullis_plugin_jwt::verify::{InGuest, verify_jws};
use serde_json::json;

const ISSUER: &str = "https://idp.bench";

fn settings(keys: &serde_json::Value, cache_size: usize) -> serde_json::Value {
    json!({
        "issuers": [{ "issuer": ISSUER, "audiences": ["api"], "algorithms": ["ES256", "RS256"], "jwks": keys }],
        "cache_size": cache_size,
    })
}

fn load_chains(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    keys: &serde_json::Value,
) -> (PluginRuntime, Vec<(String, Chain)>) {
    let route = |id: &str, plugin: &str, settings: Option<serde_json::Value>| {
        let mut entry = json!({ "name": plugin });
        if let Some(settings) = settings {
            entry["settings"] = settings;
        }
        json!({ "id": id, "path": { "exact": format!("/{id}") },
                "upstream": { "builtin": "echo" }, "plugins": [entry] })
    };
    let document = json!({
        "server": { "listen": "127.0.0.1:0" },
        "runtime": { "cache_dir": fixtures::target_dir().join("plugin-cache").display().to_string() },
        "plugins": {
            "noop": { "path": fixtures::fixture("noop").display().to_string() },
            // Called on every request, so the rows measure the plugin.
            "jwt": { "builtin": "jwt", "role": "authentication", "settings": settings(keys, 1024),
                     "decision_cache_entries": 0 },
            "jwt-kept": { "builtin": "jwt", "role": "authentication", "settings": settings(keys, 1024) },
        },
        "routes": [
            route("noop", "noop", None),
            route("jwt-cached", "jwt", None),
            route("jwt-kept", "jwt-kept", None),
            route("jwt-fresh", "jwt", Some(settings(keys, 0))),
        ],
    });
    common::load_chains(rt, dir, &toml::to_string(&document).expect("toml"))
}

fn request(token: &str) -> Arc<RequestView> {
    common::request(
        "/api/orders",
        None,
        &[("authorization", format!("Bearer {token}"))],
    )
}

fn jwt_costs(c: &mut Criterion) {
    let es = jwt::Signer::es256("ec-1");
    let rs = jwt::Signer::rs256("rsa-1");
    let keys = json!({ "keys": [es.jwk(), rs.jwk()] });
    let claims = json!({ "iss": ISSUER, "aud": "api", "sub": "alice", "exp": jwt::now() + 86_400,
                         "scope": "orders:read", "roles": ["clerk"] });
    let tokens = [("es256", es.token(&claims)), ("rs256", rs.token(&claims))];

    let rt = common::runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let (_runtime, chains) = load_chains(&rt, dir.path(), &keys);
    let chain = |id: &str| &chains.iter().find(|(name, _)| name == id).expect("route").1;
    let call = |chain: &Chain, template: &Arc<RequestView>| common::call(&rt, chain, template);

    let mut group = c.benchmark_group("jwt_plugin");
    let es_request = request(&tokens[0].1);
    group.bench_function("noop-baseline", |b| {
        b.iter(|| call(chain("noop"), &es_request))
    });
    group.bench_function("cached-es256", |b| {
        b.iter(|| call(chain("jwt-cached"), &es_request))
    });
    group.bench_function("kept-es256", |b| {
        b.iter(|| call(chain("jwt-kept"), &es_request))
    });
    for (alg, token) in &tokens {
        let template = request(token);
        group.bench_function(format!("fresh-{alg}"), |b| {
            b.iter(|| call(chain("jwt-fresh"), &template))
        });
    }
    group.finish();

    let issuer_keys = portcullis_plugin_jwt::keys::parse_jwks(&keys).expect("keys");
    let algorithms = [
        jsonwebtoken::Algorithm::ES256,
        jsonwebtoken::Algorithm::RS256,
    ];
    let mut group = c.benchmark_group("jwt_native");
    let host_crypto = ring_check::RingCheck;
    for (alg, token) in &tokens {
        group.bench_function(format!("jsonwebtoken-{alg}"), |b| {
            b.iter(|| verify_jws(token, &issuer_keys, &algorithms, &InGuest).expect("valid"))
        });
        group.bench_function(format!("host-crypto-{alg}"), |b| {
            b.iter(|| verify_jws(token, &issuer_keys, &algorithms, &host_crypto).expect("valid"))
        });
    }
    group.finish();
}

criterion_group!(benches, jwt_costs);
criterion_main!(benches);
