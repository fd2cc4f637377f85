//! The data-security plugins' cost per request through the sandbox:
//! `validate` on a 10 KB JSON body (both request phases), `mask` on a
//! 100 KB JSON response with and without data to mask, `cors` on a
//! cross-origin GET (request and response headers) and `csrf` on a
//! same-origin POST, beside a trivial plugin's call. The native costs are
//! in plugins/validate/benches and plugins/mask/benches.

#[allow(dead_code)]
mod common;
#[path = "../../tests/all/support/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;
#[path = "../../plugins/validate/benches/shared/orders.rs"]
mod orders;
#[path = "../../plugins/mask/benches/shared/records.rs"]
mod records;

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_host::context::RequestContext;
use portcullis_host::plugin::bindings::Phase;
use portcullis_host::plugin::chain::{Chain, ChainRun, Flow, PhaseBody};
use portcullis_host::plugin::view::{RequestView, ResponseView};
use serde_json::json;

/// A request phase (with `body` for the body phase); whether it continued.
fn request_phase(
    rt: &tokio::runtime::Runtime,
    chain: &Chain,
    view: &Arc<RequestView>,
    phase: Phase,
    body: Option<&Bytes>,
) -> bool {
    rt.block_on(async {
        let mut view = view.clone();
        let mut context = Arc::new(RequestContext::default());
        let mut bytes = body.cloned().unwrap_or_default();
        let phase_body = body.map(|_| PhaseBody {
            bytes: &mut bytes,
            complete: true,
        });
        let flow = chain
            .on_request(
                phase,
                &mut view,
                phase_body,
                &mut context,
                &mut ChainRun::unlimited(),
            )
            .await
            .expect("phase");
        black_box((view, context));
        matches!(flow, Flow::Continue)
    })
}

/// A response phase on a copy of `response` (with `body` for the body
/// phase); the body as the client would get it.
fn response_phase(
    rt: &tokio::runtime::Runtime,
    chain: &Chain,
    view: &Arc<RequestView>,
    response: &Arc<ResponseView>,
    phase: Phase,
    body: Option<&Bytes>,
) -> Bytes {
    rt.block_on(async {
        let mut response = response.clone();
        let mut context = Arc::new(RequestContext::default());
        let mut bytes = body.cloned().unwrap_or_default();
        let phase_body = body.map(|_| PhaseBody {
            bytes: &mut bytes,
            complete: true,
        });
        let flow = chain
            .on_response(
                phase,
                view,
                &mut response,
                phase_body,
                &mut context,
                &mut ChainRun::unlimited(),
            )
            .await
            .expect("phase");
        assert!(matches!(flow, Flow::Continue));
        bytes
    })
}

fn post(path: &str, headers: &[(&'static str, String)]) -> Arc<RequestView> {
    let mut view = common::request(path, None, headers);
    Arc::make_mut(&mut view).method = http::Method::POST;
    view
}

fn data_security_costs(c: &mut Criterion) {
    let rt = common::runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let examples = fixtures::workspace().join("examples/validate");
    let document = json!({
        "server": { "listen": "127.0.0.1:0" },
        "runtime": { "cache_dir": fixtures::target_dir().join("plugin-cache").display().to_string() },
        "plugins": {
            "noop": { "path": fixtures::fixture("noop").display().to_string() },
            "validate": { "builtin": "validate", "mounts": { "api": examples.display().to_string() } },
            "mask": { "builtin": "mask", "memory_limit_mib": 128, "timeout_ms": 1000 },
            "cors": { "builtin": "cors" },
            "csrf": { "builtin": "csrf" },
        },
        "routes": [
            { "id": "noop", "path": { "exact": "/noop" }, "upstream": { "builtin": "echo" }, "plugins": [{ "name": "noop" }] },
            { "id": "validate", "path": { "exact": "/orders" }, "upstream": { "builtin": "echo" },
              "plugins": [{ "name": "validate", "settings": { "schema_file": "/api/schemas/order.json" } }] },
            { "id": "mask", "path": { "exact": "/customers" }, "upstream": { "builtin": "echo" },
              "plugins": [{ "name": "mask", "settings": { "fields": ["$.customers[*].ssn"] } }] },
            { "id": "cors", "path": { "exact": "/cors" }, "upstream": { "builtin": "echo" },
              "plugins": [{ "name": "cors", "settings": { "allow_origins": ["https://app.example.com"] } }] },
            { "id": "csrf", "path": { "exact": "/csrf" }, "upstream": { "builtin": "echo" }, "plugins": [{ "name": "csrf" }] },
        ],
    });
    let toml = toml::to_string(&document).expect("toml");
    let (_runtime, chains) = common::load_chains(&rt, dir.path(), &toml);
    let chain = |id: &str| &chains.iter().find(|(name, _)| name == id).expect("route").1;

    let order = Bytes::from(orders::order_body());
    let json = ("content-type", "application/json".to_string());
    let order_view = post(
        "/orders",
        &[json.clone(), ("content-length", order.len().to_string())],
    );
    assert!(
        request_phase(
            &rt,
            chain("validate"),
            &order_view,
            Phase::RequestBody,
            Some(&order)
        ),
        "the order is valid"
    );

    let customers = Bytes::from(records::records(100 * 1024, true));
    let clean = Bytes::from(records::records(100 * 1024, false));
    let get = common::request("/customers", None, &[]);
    let response = Arc::new(ResponseView {
        status: 200,
        headers: [(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        )]
        .into_iter()
        .collect(),
    });
    assert_ne!(
        response_phase(
            &rt,
            chain("mask"),
            &get,
            &response,
            Phase::ResponseBody,
            Some(&customers)
        ),
        customers
    );

    let cross_origin = common::request(
        "/cors",
        None,
        &[("origin", "https://app.example.com".to_string())],
    );
    let same_origin = post("/csrf", &[("sec-fetch-site", "same-origin".to_string())]);

    let mut group = c.benchmark_group("data_security_plugin");
    group.bench_function("noop-baseline", |b| {
        b.iter(|| common::call(&rt, chain("noop"), &order_view))
    });
    group.bench_function("validate-10kb-body", |b| {
        b.iter(|| {
            request_phase(
                &rt,
                chain("validate"),
                &order_view,
                Phase::RequestHeaders,
                None,
            ) && request_phase(
                &rt,
                chain("validate"),
                &order_view,
                Phase::RequestBody,
                Some(&order),
            )
        })
    });
    group.bench_function("mask-100kb-json", |b| {
        b.iter(|| {
            response_phase(
                &rt,
                chain("mask"),
                &get,
                &response,
                Phase::ResponseBody,
                Some(&customers),
            )
        })
    });
    group.bench_function("mask-100kb-json-nothing-to-mask", |b| {
        b.iter(|| {
            response_phase(
                &rt,
                chain("mask"),
                &get,
                &response,
                Phase::ResponseBody,
                Some(&clean),
            )
        })
    });
    group.bench_function("cors-get", |b| {
        b.iter(|| {
            request_phase(
                &rt,
                chain("cors"),
                &cross_origin,
                Phase::RequestHeaders,
                None,
            );
            response_phase(
                &rt,
                chain("cors"),
                &cross_origin,
                &response,
                Phase::ResponseHeaders,
                None,
            )
        })
    });
    group.bench_function("csrf-post", |b| {
        b.iter(|| {
            request_phase(
                &rt,
                chain("csrf"),
                &same_origin,
                Phase::RequestHeaders,
                None,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, data_security_costs);
criterion_main!(benches);
