//! Host capabilities. Each works only if the operator granted it to the
//! plugin (`capabilities = ["log", "clock", "kv", "rate-limit"]`); a plugin
//! that uses one it was not granted fails to load.

pub use crate::bindings::portcullis::policy::kv::KvError;
pub use crate::bindings::portcullis::policy::rate_limit::Outcome as RateLimitOutcome;
use crate::bindings::portcullis::policy::{clock, kv, log, rate_limit};

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
