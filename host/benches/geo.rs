//! What geography costs: a country lookup in the host (target 1 µs) and a
//! request-headers call of the `geo` plugin (target 5 µs), against DB-IP's
//! country database as the tests fetch it, beside a trivial plugin's call.

#[allow(dead_code)]
mod common;
#[path = "../../tests/all/support/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;
#[path = "../../tests/all/support/geo.rs"]
mod geo;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_host::geo::GeoDb;
use serde_json::json;

fn geo_costs(c: &mut Criterion) {
    let database = geo::database();
    let germany = geo::address_in("DE", "0.0.0.0/0");
    let germany_v6 = geo::address_in("DE", "2000::/3");
    let db = GeoDb::open(&database).expect("the database loads");
    assert_eq!(db.country(germany).as_deref(), Some("DE"));
    c.bench_function("geo_lookup_ipv4", |b| {
        b.iter(|| db.country(black_box(germany)))
    });
    c.bench_function("geo_lookup_ipv6", |b| {
        b.iter(|| db.country(black_box(germany_v6)))
    });

    let rt = common::runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let document = json!({
        "server": { "listen": "127.0.0.1:0", "trusted_proxies": ["127.0.0.1/32"] },
        "runtime": { "cache_dir": fixtures::target_dir().join("plugin-cache").display().to_string() },
        "geo": { "database": database.display().to_string() },
        "plugins": {
            "noop": { "path": fixtures::fixture("noop").display().to_string() },
            // Called on every request, so the row measures the plugin.
            "geo": { "builtin": "geo", "decision_cache_entries": 0 },
        },
        "routes": [
            { "id": "noop", "path": { "exact": "/noop" }, "upstream": { "builtin": "echo" }, "plugins": [{ "name": "noop" }] },
            { "id": "geo", "path": { "exact": "/geo" }, "upstream": { "builtin": "echo" },
              "plugins": [{ "name": "geo", "settings": { "allow": ["EU"], "forward_header": "x-client-country" } }] },
        ],
    });
    let toml = toml::to_string(&document).expect("toml");
    let (_runtime, chains) = common::load_chains(&rt, dir.path(), &toml);
    let chain = |id: &str| &chains.iter().find(|(name, _)| name == id).expect("route").1;
    let mut view = common::request("/geo", None, &[]);
    std::sync::Arc::make_mut(&mut view).client_ip = germany;

    let mut group = c.benchmark_group("geo_plugin");
    group.bench_function("noop-baseline", |b| {
        b.iter(|| common::call(&rt, chain("noop"), &view))
    });
    group.bench_function("geo-allow-eu", |b| {
        b.iter(|| common::call(&rt, chain("geo"), &view))
    });
    group.finish();
}

criterion_group!(benches, geo_costs);
criterion_main!(benches);
