//! The cost of plugin calls: one request-phase call of a trivial plugin
//! taken from its pool, and chains of 1, 3 and 5 such plugins, plus the
//! built-in ip-filter with real settings.

#[allow(dead_code)]
mod common;
#[path = "../../tests/all/support/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_host::plugin::PluginRuntime;
use portcullis_host::plugin::chain::Chain;
use portcullis_host::plugin::view::RequestView;

/// Chains for each route of a config whose routes are named after what they measure.
fn load_chains(rt: &tokio::runtime::Runtime, dir: &Path) -> (PluginRuntime, Vec<(String, Chain)>) {
    let noop = fixtures::fixture("noop");
    let chain_of = |n: usize| vec!["{ name = \"noop\" }"; n].join(", ");
    let toml = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[runtime]
cache_dir = {cache:?}

[plugins.noop]
path = {noop:?}

[plugins.ip-filter]
builtin = "ip-filter"
# Called on every request, so the row measures the plugin.
decision_cache_entries = 0

[[routes]]
id = "chain-1"
path = {{ exact = "/1" }}
upstream = {{ builtin = "echo" }}
plugins = [{one}]

[[routes]]
id = "chain-3"
path = {{ exact = "/3" }}
upstream = {{ builtin = "echo" }}
plugins = [{three}]

[[routes]]
id = "chain-5"
path = {{ exact = "/5" }}
upstream = {{ builtin = "echo" }}
plugins = [{five}]

[[routes]]
id = "ip-filter"
path = {{ exact = "/ip" }}
upstream = {{ builtin = "echo" }}
plugins = [{{ name = "ip-filter", settings = {{ allow = ["10.0.0.0/8", "127.0.0.0/8"], deny = ["127.0.0.2"], rules = [{{ methods = ["DELETE"], path_prefix = "/admin", action = "deny" }}] }} }}]
"#,
        cache = fixtures::target_dir()
            .join("plugin-cache")
            .display()
            .to_string(),
        noop = noop.display().to_string(),
        one = chain_of(1),
        three = chain_of(3),
        five = chain_of(5),
    );
    common::load_chains(rt, dir, &toml)
}

fn request() -> Arc<RequestView> {
    common::request(
        "/api/users/42",
        Some("page=2"),
        &[
            ("user-agent", "bench/1.0".into()),
            ("accept", "application/json".into()),
        ],
    )
}

fn plugin_calls(c: &mut Criterion) {
    let rt = common::runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let (_runtime, chains) = load_chains(&rt, dir.path());
    let template = request();

    common::bench_chains(c, "request_headers_phase", &rt, &chains, &template);
}

criterion_group!(benches, plugin_calls);
criterion_main!(benches);
