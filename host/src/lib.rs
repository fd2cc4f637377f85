//! Portcullis: an API gateway whose security policies run as sandboxed
//! WebAssembly components.
//!
//! The request path is in [`pipeline`]; the plugin runtime in [`plugin`].
// `unsafe` is denied everywhere; `plugin::artifact_cache` is the one module
// that allows it, for `Component::deserialize_file`, and says why it is sound.
#![deny(unsafe_code)]

pub mod admin;
pub mod allocator;
pub mod apikeys;
pub mod audit;
pub mod body;
pub mod calendar;
pub mod config;
pub mod conformance;
pub mod connection_clock;
pub mod connections;
pub mod context;
pub mod custom_names;
pub mod drain;
pub mod error;
pub mod field_list;
pub mod field_value;
pub mod forwarding;
pub mod gateway;
pub mod geo;
pub mod http1;
pub mod ip_text;
pub mod live;
pub mod logging;
pub mod mapped_copy;
pub mod percent;
pub mod pipeline;
pub mod plugin;
pub mod ratelimit;
pub mod reply;
pub mod routing;
pub mod scaffold;
pub mod server;
pub mod serving;
pub mod state;
pub mod telemetry;
#[cfg(test)]
mod test_support;
pub mod threats;
pub mod tls;
pub mod uploads;
pub mod upstream;
