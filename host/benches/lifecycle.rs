//! What a gateway's life costs outside the request path: building one with
//! every built-in plugin loaded (start-up, compiled components already in
//! the cache, as after a first run), replacing it with the same config (a
//! reload), and a plugin call that recycles its instance every time
//! (`max_uses = 1`) against one that reuses it.

#[allow(dead_code)]
mod common;
#[path = "../../tests/all/support/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_host::config;
use portcullis_host::gateway::Gateway;
use portcullis_host::state::ProcessState;

/// Every built-in plugin on a route of its own (the WAF with the CRS at
/// paranoia level 1, two instances); `waf` false leaves the WAF out.
fn all_builtins(cache: &str, waf: bool) -> String {
    let crs = fixtures::workspace().join("../shared/corpora/owasp-crs-v4.28.0");
    let validate = fixtures::workspace().join("examples/validate");
    let mut toml = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[runtime]
cache_dir = {cache:?}

[plugins.ip-filter]
builtin = "ip-filter"
settings = {{ allow = ["127.0.0.0/8"] }}

[plugins.headers]
builtin = "headers"

[plugins.jwt]
builtin = "jwt"
role = "authentication"
settings = {{ issuers = [{{ issuer = "https://idp.bench", algorithms = ["HS256"], secret = "bench-secret-of-at-least-32-bytes!!" }}] }}

[plugins.rbac]
builtin = "rbac"
settings = {{ rules = [{{ methods = ["GET"], paths = ["/**"] }}] }}

[plugins.mask]
builtin = "mask"
body_budget = 1048576

[plugins.cors]
builtin = "cors"

[plugins.csrf]
builtin = "csrf"

[plugins.validate]
builtin = "validate"
mounts = {{ api = {validate:?} }}
body_budget = 1048576
"#,
        validate = validate.display().to_string(),
    );
    let mut plugins = vec![
        ("ip-filter", ""),
        ("headers", ""),
        ("jwt", ""),
        ("rbac", ""),
        ("mask", ""),
        (
            "cors",
            r#", settings = { allow_origins = ["https://app.example.com"] }"#,
        ),
        ("csrf", ""),
        (
            "validate",
            r#", settings = { openapi_file = "/api/petstore.json" }"#,
        ),
    ];
    if waf {
        toml.push_str(&format!(
            r#"
[plugins.waf]
builtin = "waf"
memory_limit_mib = 256
timeout_ms = 500
mounts = {{ crs = {crs:?} }}
pool = {{ max = 2, prewarm = 2 }}
"#,
            crs = crs.display().to_string(),
        ));
        plugins.push((
            "waf",
            r#", settings = { rules_dir = "/crs", paranoia_level = 1 }"#,
        ));
    }
    for (name, settings) in plugins {
        toml.push_str(&format!(
            "\n[[routes]]\nid = \"{name}\"\npath = {{ prefix = \"/{name}/\" }}\nupstream = {{ builtin = \"echo\" }}\nplugins = [{{ name = \"{name}\"{settings} }}]\n"
        ));
    }
    toml
}

fn build(rt: &tokio::runtime::Runtime, path: &Path, previous: Option<&Gateway>) -> Gateway {
    let config = config::load_file(path).expect("valid config");
    rt.block_on(Gateway::build_after(
        &config,
        path,
        &ProcessState::default(),
        previous,
    ))
    .expect("gateway")
}

fn lifecycle(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = fixtures::target_dir()
        .join("plugin-cache")
        .display()
        .to_string();
    let mut group = c.benchmark_group("lifecycle");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    for (name, waf) in [("without_waf", false), ("with_waf", true)] {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, all_builtins(&cache, waf)).expect("write config");
        // Fills the compiled-component cache: starts after the first are
        // what is measured.
        let first = build(&rt, &path, None);
        group.bench_function(format!("start_all_builtins_{name}"), |b| {
            b.iter(|| build(&rt, &path, None))
        });
        group.bench_function(format!("reload_all_builtins_{name}"), |b| {
            b.iter(|| build(&rt, &path, Some(&first)))
        });
    }
    group.finish();

    let noop = fixtures::fixture("noop");
    let toml = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[runtime]
cache_dir = {cache:?}

[plugins.reused]
path = {noop:?}

[plugins.recycled]
path = {noop:?}
pool = {{ max_uses = 1 }}

[[routes]]
id = "reused"
path = {{ exact = "/reused" }}
upstream = {{ builtin = "echo" }}
plugins = [{{ name = "reused" }}]

[[routes]]
id = "recycled"
path = {{ exact = "/recycled" }}
upstream = {{ builtin = "echo" }}
plugins = [{{ name = "recycled" }}]
"#,
        noop = noop.display().to_string(),
    );
    let call_rt = common::runtime();
    let (_runtime, chains) = common::load_chains(&call_rt, dir.path(), &toml);
    let template = common::request("/", None, &[]);
    common::bench_chains(c, "instance", &call_rt, &chains, &template);
}

criterion_group!(benches, lifecycle);
criterion_main!(benches);
