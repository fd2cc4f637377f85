//! The built-in plugins, compiled from `plugins/` for wasm32-wasip2 by the
//! host's build script and embedded in the binary, so a config can name
//! them without a file.

use crate::config::{Capability, PluginConfig};

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// The component bytes of a built-in plugin, with their SHA-256 (hex),
/// computed at build time.
pub fn component(name: &str) -> Option<(&'static [u8], &'static str)> {
    BUILTIN_PLUGINS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, bytes, digest)| (*bytes, *digest))
}

/// The capabilities a built-in plugin is granted without asking: the ones
/// it is written to use. `outbound-http` still reaches only the origins in
/// the plugin's `http_allow`, empty unless the operator fills it.
pub fn capabilities(name: &str) -> &'static [Capability] {
    match name {
        "jwt" => &[
            Capability::Log,
            Capability::Kv,
            Capability::OutboundHttp,
            Capability::Crypto,
            Capability::DecisionCache,
        ],
        "rbac" => &[Capability::Log, Capability::DecisionCache],
        "ext-authz" => &[Capability::Log, Capability::OutboundHttp],
        "api-key" => &[Capability::ApiKeys],
        "waf" => &[Capability::Log, Capability::Metrics],
        "geo" => &[
            Capability::Geo,
            Capability::Metrics,
            Capability::DecisionCache,
        ],
        "ip-filter" | "headers" => &[Capability::DecisionCache],
        _ => &[],
    }
}

/// The bodies a built-in plugin's body phases read when the config names
/// none: `mask` reads JSON (`*/json`, `*/*+json`) and text, as its
/// `Format` sorts them, and lets everything else through untouched, so
/// other bodies need not be buffered for it.
pub fn body_content_types(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "mask" => Some(&[
            "*/json",
            "*/*+json",
            "text/*",
            "application/xml",
            "application/javascript",
            "application/x-www-form-urlencoded",
        ]),
        _ => None,
    }
}

/// Every capability a configured plugin holds: those its config grants,
/// and, for a built-in plugin, those it is written for.
pub fn granted(config: &PluginConfig) -> Vec<Capability> {
    let mut granted = config.capabilities.clone();
    if let Some(builtin) = &config.builtin {
        granted.extend_from_slice(capabilities(builtin));
    }
    granted
}

/// Whether a built-in plugin of this name exists.
pub fn exists(name: &str) -> bool {
    component(name).is_some()
}

/// The names of all built-in plugins.
pub fn names() -> Vec<&'static str> {
    BUILTIN_PLUGINS.iter().map(|(n, _, _)| *n).collect()
}
