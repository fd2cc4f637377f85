//! What the plugin benches share: loading a config's chains by route id,
//! and one request-headers call of a chain.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use portcullis_host::apikeys::ApiKeys;
use portcullis_host::config;
use portcullis_host::context::RequestContext;
use portcullis_host::plugin::PluginRuntime;
use portcullis_host::plugin::bindings::Phase;
use portcullis_host::plugin::chain::{Chain, ChainRun, Flow};
use portcullis_host::plugin::view::RequestView;

/// The single-threaded runtime the benches call plugins on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A criterion group `group` with one request-headers call of each
/// named chain on a copy of `template`.
pub fn bench_chains(
    c: &mut criterion::Criterion,
    group: &str,
    rt: &tokio::runtime::Runtime,
    chains: &[(String, Chain)],
    template: &Arc<RequestView>,
) {
    let mut group = c.benchmark_group(group);
    for (name, chain) in chains {
        group.bench_function(name.as_str(), |b| b.iter(|| call(rt, chain, template)));
    }
    group.finish();
}

/// Write `toml` to `dir`, load it, and return the runtime (kept alive by
/// the caller) with each route's chain, named by route id.
pub fn load_chains(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    toml: &str,
) -> (PluginRuntime, Vec<(String, Chain)>) {
    load_chains_with_keys(rt, dir, toml, None)
}

/// As [`load_chains`], with the gateway's API keys.
pub fn load_chains_with_keys(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    toml: &str,
    api_keys: Option<ApiKeys>,
) -> (PluginRuntime, Vec<(String, Chain)>) {
    let path = dir.join("bench.toml");
    std::fs::write(&path, toml).expect("write config");
    let config = config::load_file(&path).expect("valid config");
    rt.block_on(async {
        let policies = portcullis_host::ratelimit::build_policies(&config);
        let runtime = PluginRuntime::new(&config, policies, api_keys).expect("runtime");
        let chains = runtime.load_chains(&config, &path).await.expect("chains");
        let named = config
            .routes
            .iter()
            .map(|r| r.id.clone())
            .zip(chains)
            .collect();
        (runtime, named)
    })
}

/// One request-headers call of `chain` on a copy of `template`, which
/// must let the request continue.
pub fn call(rt: &tokio::runtime::Runtime, chain: &Chain, template: &Arc<RequestView>) {
    rt.block_on(async {
        let mut view = template.clone();
        let mut context = Arc::new(RequestContext::default());
        let flow = chain
            .on_request(
                Phase::RequestHeaders,
                &mut view,
                None,
                &mut context,
                &mut ChainRun::unlimited(),
            )
            .await;
        assert!(matches!(flow, Ok(Flow::Continue)));
        black_box((view, context));
    })
}

/// A GET of `path` (and `query`) to api.example.com from 127.0.0.1 with
/// `headers` (a `host` header is added).
pub fn request(
    path: &str,
    query: Option<&str>,
    headers: &[(&'static str, String)],
) -> Arc<RequestView> {
    let mut map = http::HeaderMap::new();
    map.insert("host", http::HeaderValue::from_static("api.example.com"));
    for (name, value) in headers {
        map.insert(
            *name,
            http::HeaderValue::from_str(value).expect("header value"),
        );
    }
    Arc::new(RequestView {
        method: http::Method::GET,
        scheme: "http",
        authority: "api.example.com".into(),
        path: path.into(),
        query: query.map(str::to_string),
        headers: map,
        version: http::Version::HTTP_11,
        client_ip: "127.0.0.1".parse().expect("ip"),
        peer_ip: "127.0.0.1".parse().expect("ip"),
        tls: None,
        route_id: Arc::from("bench"),
        request_id: Arc::from("0123456789abcdef0123456789abcdef"),
    })
}
