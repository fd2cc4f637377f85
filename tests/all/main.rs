//! End-to-end tests: the real `portcullis` binary, real upstream servers,
//! real sockets on 127.0.0.1, plugins built from source.

mod support;

mod admin_tls;
mod api_keys;
mod audit;
mod authorizer;
mod authorizer_languages;
mod breaker;
mod config_errors;
mod conformance;
mod cors_csrf;
mod crypto;
mod ext_authz;
mod framing;
mod geo;
mod h2_abuse;
mod hardening;
mod http1_server;
mod introspection;
mod jwt;
mod jwt_keys;
mod lifecycle;
mod mask;
mod observability;
mod plugin_compile;
mod plugins;
mod proxy;
mod proxy_responses;
mod ratelimit;
mod rbac;
mod residency;
mod runtime_admin;
mod scaffold;
mod sentinel;
mod shared_state;
mod signed_uploads;
mod supply_chain;
mod swap_under_load;
mod threats;
mod tls;
mod traces;
mod validate;
mod waf;
mod waf_crs;
mod waf_false_positives;
