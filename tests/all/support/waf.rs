//! A gateway guarded by the `waf` plugin over the Core Rule Set in the
//! shared corpora.

use std::path::PathBuf;

use super::fixtures::workspace;

/// The CRS v4.28.0 release directory (crs-setup.conf.example, rules/).
pub fn crs() -> PathBuf {
    workspace().join("../shared/corpora/owasp-crs-v4.28.0")
}

/// One route to `upstream` (host:port) through the `waf` plugin, the CRS
/// mounted at `/crs`, with `settings` (TOML lines) under the route's
/// plugin settings, and `mounts` (TOML inline-table entries) added.
pub fn config(upstream: &str, settings: &str, mounts: &str) -> String {
    format!(
        r#"
[plugins.waf]
builtin = "waf"
timeout_ms = 5000
memory_limit_mib = 512
mounts = {{ crs = "{crs}"{mounts} }}
pool = {{ max = 4 }}

[[routes]]
id = "waf"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{upstream}"] }}

[[routes.plugins]]
name = "waf"
[routes.plugins.settings]
rules_dir = "/crs"
{settings}
"#,
        crs = crs().display()
    )
}
