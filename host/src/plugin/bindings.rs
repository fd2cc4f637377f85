//! The only place that generates host bindings from `wit/`. Resources map to
//! the host types in [`super::view`], so the rest of the runtime works with
//! plain Rust types.

#![allow(missing_docs, clippy::all)]

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "portcullis:policy/plugin",
        imports: { default: trappable },
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
pub use generated::portcullis::policy::{clock, kv, log, rate_limit, types};
pub use types::{Decision, Denial, Edit, Phase};
