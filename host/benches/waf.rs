//! The `waf` plugin's cost per request, stock CRS at paranoia level 1 in
//! blocking mode: the request-headers and request-body calls for a typical
//! benign 1 KB API request and for the same request carrying an SQL
//! injection, beside a trivial plugin's call. The engine's native cost on
//! the same requests is in plugins/waf/engine/benches/crs.rs.

#[allow(dead_code)]
mod common;
#[path = "../../tests/all/support/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;
#[path = "../../plugins/waf/engine/tests/crs/requests.rs"]
#[allow(dead_code)]
mod requests;

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_host::context::RequestContext;
use portcullis_host::plugin::bindings::Phase;
use portcullis_host::plugin::chain::{Chain, ChainRun, Flow, PhaseBody};
use portcullis_host::plugin::view::RequestView;
use serde_json::json;

fn view(body_len: usize) -> Arc<RequestView> {
    let mut headers = http::HeaderMap::new();
    for (name, value) in requests::head() {
        headers.append(
            http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            http::HeaderValue::from_str(&value).expect("value"),
        );
    }
    headers.insert("content-length", body_len.into());
    Arc::new(RequestView {
        method: http::Method::POST,
        scheme: "http",
        authority: "api.example.com".into(),
        path: requests::PATH.into(),
        query: Some(requests::QUERY.into()),
        headers,
        version: http::Version::HTTP_11,
        client_ip: "203.0.113.7".parse().expect("ip"),
        peer_ip: "203.0.113.7".parse().expect("ip"),
        tls: None,
        route_id: Arc::from("bench"),
        request_id: Arc::from("0123456789abcdef0123456789abcdef"),
    })
}

/// Both request phases; whether the request was refused.
fn call(
    rt: &tokio::runtime::Runtime,
    chain: &Chain,
    template: &Arc<RequestView>,
    body: &Bytes,
) -> bool {
    rt.block_on(async {
        let mut view = template.clone();
        let mut context = Arc::new(RequestContext::default());
        let headers = chain
            .on_request(
                Phase::RequestHeaders,
                &mut view,
                None,
                &mut context,
                &mut ChainRun::unlimited(),
            )
            .await
            .expect("headers phase");
        if matches!(headers, Flow::Deny { .. }) {
            return true;
        }
        let mut bytes = body.clone();
        let phase_body = PhaseBody {
            bytes: &mut bytes,
            complete: true,
        };
        let flow = chain
            .on_request(
                Phase::RequestBody,
                &mut view,
                Some(phase_body),
                &mut context,
                &mut ChainRun::unlimited(),
            )
            .await
            .expect("body phase");
        black_box((view, context));
        matches!(flow, Flow::Deny { .. })
    })
}

fn waf_costs(c: &mut Criterion) {
    let rt = common::runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let crs = fixtures::workspace().join("../shared/corpora/owasp-crs-v4.28.0");
    let document = json!({
        "server": { "listen": "127.0.0.1:0" },
        "runtime": { "cache_dir": fixtures::target_dir().join("plugin-cache").display().to_string() },
        "plugins": {
            "noop": { "path": fixtures::fixture("noop").display().to_string() },
            // Instances reused long, as README's WAF example keeps them:
            // with the default `max_uses` a fresh instance parses the CRS
            // and compiles its patterns every 5,000 requests, on this
            // thread, and the median would measure that too.
            "waf": { "builtin": "waf", "timeout_ms": 1000, "memory_limit_mib": 256,
                     "pool": { "max": 2, "max_uses": 100_000_000 },
                     "mounts": { "crs": crs.display().to_string() } },
        },
        "routes": [
            { "id": "noop", "path": { "exact": "/noop" }, "upstream": { "builtin": "echo" },
              "plugins": [{ "name": "noop" }] },
            { "id": "waf", "path": { "exact": "/waf" }, "upstream": { "builtin": "echo" },
              "plugins": [{ "name": "waf", "settings": { "rules_dir": "/crs", "paranoia_level": 1 } }] },
        ],
    });
    let toml = toml::to_string(&document).expect("toml");
    let (_runtime, chains) = common::load_chains(&rt, dir.path(), &toml);
    let chain = |id: &str| &chains.iter().find(|(name, _)| name == id).expect("route").1;

    let benign_body = Bytes::from(requests::BENIGN_BODY);
    let attack_body = Bytes::from(requests::attack_body());
    let benign = view(benign_body.len());
    let attack = view(attack_body.len());
    assert!(
        !call(&rt, chain("waf"), &benign, &benign_body),
        "the benign request passes"
    );
    assert!(
        call(&rt, chain("waf"), &attack, &attack_body),
        "the attack is refused"
    );

    let mut group = c.benchmark_group("waf_plugin_pl1");
    group.bench_function("noop-baseline", |b| {
        b.iter(|| common::call(&rt, chain("noop"), &benign))
    });
    group.bench_function("benign-1k", |b| {
        b.iter(|| call(&rt, chain("waf"), &benign, &benign_body))
    });
    group.bench_function("sqli-1k", |b| {
        b.iter(|| call(&rt, chain("waf"), &attack, &attack_body))
    });
    group.finish();
}

criterion_group!(benches, waf_costs);
criterion_main!(benches);
