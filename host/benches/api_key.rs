//! The cost of an API-key check: a request-headers call of the `api-key`
//! plugin (without a plan, and with a plan's rate and quota), beside a
//! trivial plugin's call.

#[allow(dead_code)]
mod common;
#[path = "../../tests/all/support/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

use std::collections::BTreeMap;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_host::apikeys::{ApiKeys, KeyStore, Plans};
use portcullis_host::config::{QuotaPeriod, UsagePlanConfig};
use portcullis_host::plugin::view::RequestView;
use serde_json::json;

fn request(key: &str) -> Arc<RequestView> {
    common::request("/api/orders", None, &[("x-api-key", key.to_string())])
}

fn api_key_costs(c: &mut Criterion) {
    let rt = common::runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(KeyStore::open(&dir.path().join("keys.redb")).expect("store"));
    // A realistic index: the checked key among 10,000 others.
    for i in 0..10_000 {
        store.create(&format!("consumer-{i}"), None).expect("key");
    }
    let (plain_key, _) = store.create("acme", None).expect("key");
    let (planned_key, _) = store.create("globex", Some("gold")).expect("key");
    let plan = UsagePlanConfig {
        requests: Some(100_000_000),
        per_seconds: 1,
        burst: Some(100_000_000),
        quota: Some(u64::MAX),
        quota_period: QuotaPeriod::Month,
    };
    let plans = Plans::new(&BTreeMap::from([("gold".to_string(), plan)])).expect("plans");
    let api_keys = ApiKeys {
        store: store.clone(),
        plans: Arc::new(plans),
    };

    let document = json!({
        "server": { "listen": "127.0.0.1:0" },
        "runtime": { "cache_dir": fixtures::target_dir().join("plugin-cache").display().to_string() },
        "api_keys": { "store": "unused-by-the-bench.redb" },
        "plugins": {
            "noop": { "path": fixtures::fixture("noop").display().to_string() },
            "keys": { "builtin": "api-key", "role": "authentication" },
        },
        "routes": [
            { "id": "noop", "path": { "exact": "/noop" }, "upstream": { "builtin": "echo" },
              "plugins": [{ "name": "noop" }] },
            { "id": "keys", "path": { "exact": "/keys" }, "upstream": { "builtin": "echo" },
              "plugins": [{ "name": "keys" }] },
        ],
    });
    let toml = toml::to_string(&document).expect("toml");
    let (_runtime, chains) =
        common::load_chains_with_keys(&rt, dir.path(), &toml, Some(api_keys.clone()));
    let chain = |id: &str| &chains.iter().find(|(name, _)| name == id).expect("route").1;

    let mut group = c.benchmark_group("api_key");
    let plain = request(&plain_key);
    let planned = request(&planned_key);
    group.bench_function("noop-baseline", |b| {
        b.iter(|| common::call(&rt, chain("noop"), &plain))
    });
    group.bench_function("plugin-no-plan", |b| {
        b.iter(|| common::call(&rt, chain("keys"), &plain))
    });
    group.bench_function("plugin-rate-and-quota", |b| {
        b.iter(|| common::call(&rt, chain("keys"), &planned))
    });
    group.bench_function("host-check-only", |b| {
        b.iter(|| rt.block_on(api_keys.check(&planned_key)).expect("valid"))
    });
    group.finish();
}

criterion_group!(benches, api_key_costs);
criterion_main!(benches);
