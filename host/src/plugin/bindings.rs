//! The only place that generates host bindings from `wit/`. Resources map to
//! the host types in [`super::view`], so the rest of the runtime works with
//! plain Rust types.

#![allow(missing_docs, clippy::all)]

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "portcullis:policy/plugin",
        imports: {
            // The imports that may wait on I/O (API keys and kv: Redis,
            // when state is shared).
            "portcullis:policy/outbound-http.send": async | trappable,
            "portcullis:policy/api-keys.check": async | trappable,
            "portcullis:policy/kv.get": async | trappable,
            "portcullis:policy/kv.set": async | trappable,
            "portcullis:policy/kv.delete": async | trappable,
            default: trappable,
        },
        exports: { default: async },
        with: {
            "portcullis:policy/types.request": crate::plugin::view::RequestResource,
            "portcullis:policy/types.response": crate::plugin::view::ResponseResource,
            "portcullis:policy/types.context": crate::plugin::view::ContextResource,
            "portcullis:policy/types.body": crate::plugin::view::BodyResource,
        },
    });
}

pub use generated::Plugin as PluginBindings;
pub use generated::PluginPre as PluginBindingsPre;
pub use generated::portcullis::policy::{
    api_keys, clock, crypto, decision_cache, geo, kv, log, metrics, outbound_http, rate_limit,
    types,
};
pub use types::{Decision, Denial, Edit, Phase};
