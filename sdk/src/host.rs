//! Host capabilities. Each works only if the operator granted it to the
//! plugin (`capabilities = ["log", "clock", "kv", "rate-limit",
//! "outbound-http", "api-keys", "crypto", "geo", "metrics",
//! "decision-cache"]`); a plugin that uses one it was not granted
//! fails to load.

pub use crate::bindings::portcullis::policy::api_keys::{
    Grant as ApiKeyGrant, Limited as ApiKeyLimited, Refusal as ApiKeyRefusal,
};
pub use crate::bindings::portcullis::policy::crypto::{
    Algorithm as CryptoAlgorithm, EcKey as CryptoEcKey, PublicKey as CryptoPublicKey,
    RsaKey as CryptoRsaKey,
};
pub use crate::bindings::portcullis::policy::kv::KvError;
pub use crate::bindings::portcullis::policy::outbound_http::{
    HttpError, IncomingResponse as HttpResponse, OutgoingRequest as HttpRequest,
};
pub use crate::bindings::portcullis::policy::rate_limit::Outcome as RateLimitOutcome;
use crate::bindings::portcullis::policy::{
    api_keys, clock, crypto, decision_cache, geo, kv, log, metrics, outbound_http, rate_limit,
};

/// Write a line to the gateway's log at info level. Needs `log`.
pub fn log_info(message: &str) {
    log::write(log::Level::Info, message);
}

/// Write a line to the gateway's log at warn level. Needs `log`.
pub fn log_warn(message: &str) {
    log::write(log::Level::Warn, message);
}

/// Milliseconds since the Unix epoch. Needs `clock`.
pub fn now_unix_ms() -> u64 {
    clock::now_unix_ms()
}

/// The value under `key` in this plugin's store. Needs `kv`.
pub fn kv_get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
    kv::get(key)
}

/// Store `value` under `key` for `ttl_ms` milliseconds (0 = no expiry). Needs `kv`.
pub fn kv_set(key: &str, value: &[u8], ttl_ms: u64) -> Result<(), KvError> {
    kv::set(key, value, ttl_ms)
}

/// Remove `key`; true if it was present. Needs `kv`.
pub fn kv_delete(key: &str) -> Result<bool, KvError> {
    kv::delete(key)
}

/// Count one request under `key` in the gateway's rate-limit policy named
/// `policy` (a key of `[rate_limits]`). Keys are this plugin's own: they
/// never share buckets with other plugins or the native limits. Needs
/// `rate-limit`.
pub fn rate_limit_check(policy: &str, key: &str) -> Result<RateLimitOutcome, String> {
    rate_limit::check(policy, key)
}

/// Send `request` to an origin the operator allowed for this plugin
/// (`http_allow`) and wait for the whole response. Needs `outbound-http`.
pub fn http_send(request: &HttpRequest) -> Result<HttpResponse, HttpError> {
    outbound_http::send(request)
}

/// `GET url` with an `accept` header, waiting at most `timeout_ms`. Needs
/// `outbound-http`.
pub fn http_get(url: &str, accept: &str, timeout_ms: u32) -> Result<HttpResponse, HttpError> {
    http_send(&HttpRequest {
        method: "GET".into(),
        url: url.into(),
        headers: vec![("accept".into(), accept.into())],
        body: Vec::new(),
        timeout_ms,
    })
}

impl HttpResponse {
    /// First value of a header (name is case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Check an API key issued by the gateway's admin API and count one request
/// against its consumer's usage plan. Needs `api-keys`.
pub fn api_key_check(key: &str) -> Result<ApiKeyGrant, ApiKeyRefusal> {
    api_keys::check(key)
}

/// Whether `signature` (JWS form) of `message` verifies under `key` with
/// `algorithm`, checked by the host's native crypto. Needs `crypto`.
pub fn verify_signature(
    algorithm: CryptoAlgorithm,
    key: &CryptoPublicKey,
    message: &[u8],
    signature: &[u8],
) -> bool {
    crypto::verify(algorithm, key, message, signature)
}

/// Add `value` to the plugin's counter `event` (optionally split by one
/// `label` value) in the gateway's metrics. Needs `metrics`.
pub fn count(event: &str, label: Option<&str>, value: u64) {
    metrics::counter_add(event, label, value);
}

/// The ISO 3166-1 alpha-2 country of `ip` (IPv4 or IPv6 text), from the
/// gateway's country database, if it knows it. Needs `geo`.
pub fn geo_country(ip: &str) -> Option<String> {
    geo::country(ip)
}

/// Tell the gateway that the decision this call returns follows only from
/// what the plugin read of the request, the response and the context
/// (through their getters) and from the time, and may be given again for
/// `ttl`: a later request on which those getters return the same values
/// gets the same decision without a call. Only for `request-headers` and
/// `response-headers`; ignored for a call that also read the request id or
/// a body, or used `log`, `kv`, `rate-limit`, `outbound-http`, `api-keys`
/// or `metrics`. Needs `decision-cache`.
pub fn reusable_for(ttl: std::time::Duration) {
    let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    decision_cache::reusable_for(ms);
}
