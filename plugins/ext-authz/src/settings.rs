//! The plugin's settings, as written in the gateway config (JSON here).

use serde::Deserialize;

/// `settings` of an `ext-authz` plugin.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The service's URL; its origin must be in the plugin's `http_allow`.
    pub url: String,
    /// Request headers passed to the service (lower-case names).
    #[serde(default = "default_send_headers")]
    pub send_headers: Vec<String>,
    /// Give up after this long; the request then gets `status_on_error`.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u32,
    /// Headers of the service's allow response copied to the upstream
    /// request (set, or removed when the service sends none, so a client
    /// cannot send its own).
    #[serde(default)]
    pub upstream_headers: Vec<String>,
    /// A header of the allow response naming the principal. Only for
    /// `role = "authentication"` or `"authorizer"`.
    #[serde(default)]
    pub principal_header: Option<String>,
    /// Status when the service cannot answer (error, timeout, any status
    /// but 2xx, 401, 403): 403 or 503. The request never passes.
    #[serde(default = "default_status_on_error")]
    pub status_on_error: u16,
}

fn default_send_headers() -> Vec<String> {
    vec!["authorization".into(), "cookie".into()]
}

fn default_timeout_ms() -> u32 {
    500
}

fn default_status_on_error() -> u16 {
    403
}
