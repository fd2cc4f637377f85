//! Reading and checking a config file. Every error names the file, the key
//! and the reason, on one line, so operators and CI see exactly what to fix.

use std::fmt;
use std::path::{Path, PathBuf};

use super::model::{Capability, ClientAuth, Config, DefaultPolicy, OnError, PluginRole};
use super::secret;

/// A config file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Dotted path of the offending key, e.g. `routes[0].upstream.targets`.
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.reason)
        } else {
            write!(f, ": {}: {}", self.key, self.reason)
        }
    }
}

impl ConfigError {
    /// An error about `key` in `file`.
    pub fn new(file: &Path, key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line: None,
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// Read, parse and check a config file.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let mut config = read_file(path)?;
    check_config(path, &mut config)?;
    Ok(config)
}

/// Read and parse a config file, as written: paths not yet joined to its
/// directory, secrets not resolved, nothing checked beyond its shape.
pub fn read_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(path, "", format!("cannot read the file: {e}")))?;
    parse(path, &text)
}

/// Check a configuration as written (read by [`read_file`], perhaps
/// edited since) as if it had been read from `file`: paths are joined to
/// its directory and secrets resolved, so this runs once per value.
pub fn check_config(file: &Path, config: &mut Config) -> Result<(), ConfigError> {
    let dir = file.parent().unwrap_or(Path::new("."));
    check(file, dir, config, false)
}

/// Read and check a config file without touching anything it names: no
/// secret resolved, no plugin, mount or database file looked at. What
/// `portcullis audit` reads, so a CI job needs neither the secrets nor
/// the built plugins.
pub fn load_file_offline(path: &Path) -> Result<Config, ConfigError> {
    let mut config = read_file(path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    check(path, dir, &mut config, true)?;
    Ok(config)
}

fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let deserializer =
        toml::Deserializer::parse(text).map_err(|e| toml_error(path, text, &e, ""))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = e.path().to_string();
        toml_error(path, text, e.inner(), if key == "." { "" } else { &key })
    })
}

fn toml_error(path: &Path, text: &str, error: &toml::de::Error, key: &str) -> ConfigError {
    let line = error
        .span()
        .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
    ConfigError {
        file: path.to_path_buf(),
        line,
        key: key.to_string(),
        reason: error.message().trim_end().to_string(),
    }
}

/// Checks that serde cannot express: references, exclusive keys, ranges.
fn check(file: &Path, dir: &Path, config: &mut Config, offline: bool) -> Result<(), ConfigError> {
    let err = |key: String, reason: String| ConfigError::new(file, key, reason);

    for (name, plugin) in &mut config.plugins {
        let key = format!("plugins.{name}");
        if !is_label_safe(name) {
            return Err(err(
                key,
                "a plugin name is letters, digits and - _ . : (it names the plugin in logs and metrics)".into(),
            ));
        }
        match (&plugin.builtin, &plugin.path) {
            (Some(builtin), None) => {
                if !crate::plugin::builtin::exists(builtin) {
                    return Err(err(
                        format!("{key}.builtin"),
                        format!(
                            "no built-in plugin is called {builtin:?} (built-in: {})",
                            crate::plugin::builtin::names().join(", ")
                        ),
                    ));
                }
            }
            (None, Some(path)) => {
                let full = dir.join(path);
                if !offline && !full.is_file() {
                    return Err(err(
                        format!("{key}.path"),
                        format!("{} is not a file", full.display()),
                    ));
                }
                plugin.path = Some(full);
            }
            _ => return Err(err(key, "give exactly one of `builtin` and `path`".into())),
        }
        if let Some(pin) = &plugin.sha256
            && !crate::plugin::supply_chain::is_hex32(pin)
        {
            // A SHA-256 is written like a public key: 64 lower-case hex digits.
            return Err(err(
                format!("{key}.sha256"),
                "give the component's SHA-256 as 64 lower-case hex digits (sha256sum prints it)"
                    .into(),
            ));
        }
        if let Err(reason) = crate::plugin::body_types::BodyTypes::for_plugin(plugin) {
            return Err(err(format!("{key}.body_content_types"), reason));
        }
        if let Some(signature) = &mut plugin.signature {
            if plugin.path.is_none() {
                return Err(err(
                    format!("{key}.signature"),
                    "only a component file (`path`) has a signature; built-in plugins are part of the gateway"
                        .into(),
                ));
            }
            *signature = dir.join(&*signature);
        }
        let breaker = &plugin.breaker;
        if breaker.failures > 0
            && (breaker.window_ms == 0
                || breaker.cooldown_ms == 0
                || !(0.0..=1.0).contains(&breaker.failure_ratio))
        {
            return Err(err(
                format!("{key}.breaker"),
                "window_ms and cooldown_ms must be at least 1, failure_ratio between 0 and 1"
                    .into(),
            ));
        }
        for (mount, path) in plugin.mounts.iter_mut() {
            let mount_key = format!("{key}.mounts.{mount}");
            if mount.is_empty()
                || !mount
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(err(
                    format!("{key}.mounts.{mount:?}"),
                    "a mount name is letters, digits, - and _ (the plugin sees /NAME)".into(),
                ));
            }
            let full = dir.join(&*path);
            if !offline && !full.is_dir() {
                return Err(err(
                    mount_key,
                    format!("{} is not a directory", full.display()),
                ));
            }
            *path = full;
        }
        if plugin.role.authenticates()
            && plugin.on_error == Some(OnError::Allow)
            && !plugin.allow_unauthenticated_on_error
        {
            return Err(err(
                format!("{key}.on_error"),
                "\"allow\" on an authentication plugin lets requests through unauthenticated when it \
                 fails; set allow_unauthenticated_on_error = true if that is intended"
                    .into(),
            ));
        }
        if plugin.timeout_ms == 0 {
            return Err(err(
                format!("{key}.timeout_ms"),
                "must be at least 1".into(),
            ));
        }
        if plugin.memory_limit_mib == 0 || plugin.memory_limit_mib > config.runtime.max_memory_mib {
            return Err(err(
                format!("{key}.memory_limit_mib"),
                format!(
                    "must be between 1 and runtime.max_memory_mib ({})",
                    config.runtime.max_memory_mib
                ),
            ));
        }
        if plugin.pool.max == 0 || plugin.pool.prewarm > plugin.pool.max {
            return Err(err(
                format!("{key}.pool"),
                "need 1 <= max and prewarm <= max".into(),
            ));
        }
        if plugin.pool.max_uses == 0 {
            return Err(err(
                format!("{key}.pool.max_uses"),
                "must be at least 1".into(),
            ));
        }
        match (plugin.role, &plugin.authorizer) {
            (PluginRole::Authorizer, Some(authorizer)) => {
                crate::plugin::authorizer::Authorizer::new(authorizer)
                    .map_err(|(field, reason)| err(format!("{key}.authorizer.{field}"), reason))?;
            }
            (PluginRole::Authorizer, None) => {
                return Err(err(
                    format!("{key}.authorizer"),
                    "role = \"authorizer\" needs an [authorizer] table (type, identity_sources)"
                        .into(),
                ));
            }
            (_, Some(_)) => {
                return Err(err(
                    format!("{key}.authorizer"),
                    "only plugins with role = \"authorizer\" take an [authorizer] table".into(),
                ));
            }
            (_, None) => {}
        }
        if let Err(reason) = crate::plugin::outbound::AllowList::parse(&plugin.http_allow) {
            return Err(err(format!("{key}.http_allow"), reason));
        }
        let granted = crate::plugin::builtin::granted(plugin);
        if granted.contains(&Capability::ApiKeys) && plugin.role == PluginRole::Authorizer {
            return Err(err(
                format!("{key}.role"),
                "a plugin that checks API keys cannot be an authorizer: cached decisions would skip \
                 revocations and usage plans"
                    .into(),
            ));
        }
        if plugin.kv_scope == crate::config::KvScope::Shared
            && config.state.backend != crate::config::StateBackend::Redis
        {
            return Err(err(
                format!("{key}.kv_scope"),
                "a shared key-value store needs [state] backend = \"redis\"".into(),
            ));
        }
        if granted.contains(&Capability::ApiKeys) && config.api_keys.is_none() {
            return Err(err(
                key.clone(),
                "the plugin checks API keys: configure [api_keys] store = \"...\"".into(),
            ));
        }
        if !offline {
            secret::resolve_table(&mut plugin.settings, dir, &format!("{key}.settings"))
                .map_err(|(key, reason)| err(key, reason))?;
        }
    }

    if let Err((name, reason)) = crate::apikeys::Plans::new(&config.usage_plans) {
        return Err(err(format!("usage_plans.{name}"), reason));
    }
    if let Some(admin) = &mut config.admin {
        admin.plugin_dir = dir.join(&admin.plugin_dir);
        if let Some(token) = &admin.token_sha256
            && let Err(reason) = crate::admin::parse_token_sha256(token)
        {
            return Err(err("admin.token_sha256".into(), reason));
        }
        let client_certificates = admin
            .tls
            .as_ref()
            .is_some_and(|t| t.client_auth != ClientAuth::None);
        if admin.token_sha256.is_none() && !client_certificates {
            return Err(err(
                "admin".into(),
                "give token_sha256, or [admin.tls] with client_auth and client_ca: the admin API needs a way to authenticate callers".into(),
            ));
        }
        match &admin.tls {
            None if !admin.listen.ip().is_loopback() => {
                return Err(err(
                    "admin.listen".into(),
                    "beyond loopback the admin API needs [admin.tls]: listen on a loopback address, \
                     or give it a certificate (and client_auth for mutual TLS)"
                        .into(),
                ));
            }
            Some(tls) => {
                if tls.certificates.is_empty() {
                    return Err(err(
                        "admin.tls.certificates".into(),
                        "give at least one certificate".into(),
                    ));
                }
                if (tls.client_auth == ClientAuth::None) != tls.client_ca.is_none() {
                    return Err(err(
                        "admin.tls.client_ca".into(),
                        "give client_ca exactly when client_auth is \"optional\" or \"required\""
                            .into(),
                    ));
                }
            }
            None => {}
        }
        if admin.listen == config.server.listen && admin.listen.port() != 0 {
            return Err(err(
                "admin.listen".into(),
                "must differ from server.listen: the admin API has a listener of its own".into(),
            ));
        }
    }
    if let Some(api_keys) = &mut config.api_keys {
        match &mut api_keys.store {
            Some(store) => *store = dir.join(&*store),
            None if config.state.backend == crate::config::StateBackend::Local => {
                return Err(err(
                    "api_keys.store".into(),
                    "give the key database file, e.g. store = \"keys.redb\" (or keep keys in Redis with [state] backend = \"redis\")".into(),
                ));
            }
            None => {}
        }
    }
    check_state(&mut config.state, dir, offline).map_err(|(key, reason)| err(key, reason))?;
    if let Some(traces) = &config.traces {
        let uri: Option<http::Uri> = traces.endpoint.parse().ok();
        if uri
            .as_ref()
            .is_none_or(|u| u.scheme_str() != Some("http") || u.host().is_none())
        {
            return Err(err(
                "traces.endpoint".into(),
                format!(
                    "{:?} is not an http:// URL (an OTLP/HTTP collector, e.g. http://127.0.0.1:4318/v1/traces)",
                    traces.endpoint
                ),
            ));
        }
        if !(traces.sample >= 0.0 && traces.sample <= 1.0)
            || traces.export_every_ms == 0
            || traces.max_queued == 0
        {
            return Err(err(
                "traces".into(),
                "sample is a share between 0 and 1; export_every_ms and max_queued at least 1"
                    .into(),
            ));
        }
    }
    if let Some(threats) = &config.threats {
        check_threats(threats).map_err(|(key, reason)| err(key, reason))?;
    }
    let logging = &mut config.logging;
    for stream in [&mut logging.access, &mut logging.audit] {
        if stream != "stdout" && stream != "off" {
            *stream = dir.join(&*stream).display().to_string();
        }
    }
    if logging.audit == "off" {
        return Err(err(
            "logging.audit".into(),
            "the audit log cannot be turned off: give \"stdout\" or a file".into(),
        ));
    }
    if !(logging.access_sample > 0.0 && logging.access_sample <= 1.0) {
        return Err(err(
            "logging.access_sample".into(),
            "give a share between 0 (exclusive) and 1".into(),
        ));
    }
    for (i, key) in config.signing.trusted_keys.iter().enumerate() {
        if !crate::plugin::supply_chain::is_hex32(key) {
            return Err(err(
                format!("signing.trusted_keys[{i}]"),
                "give an ed25519 public key as 64 lower-case hex digits (portcullis plugin keygen prints one)".into(),
            ));
        }
    }
    if config.signing.required && config.signing.trusted_keys.is_empty() {
        return Err(err(
            "signing.trusted_keys".into(),
            "signing.required needs at least one trusted key".into(),
        ));
    }
    let mut seen_ids = std::collections::HashSet::new();
    if let Some(geo) = &mut config.geo {
        geo.database = dir.join(&geo.database);
        if !offline {
            geo.loaded = Some(
                crate::geo::GeoDb::open(&geo.database)
                    .map_err(|reason| err("geo.database".into(), reason))?,
            );
        }
        if geo.reload_check_ms == 0 {
            return Err(err(
                "geo.reload_check_ms".into(),
                "must be at least 1".into(),
            ));
        }
    }

    for (name, secret) in config.upload_keys.iter_mut() {
        let key = format!("upload_keys.{name}");
        if offline {
            continue;
        }
        if let Some(resolved) = secret::resolve(secret, dir).map_err(|e| err(key.clone(), e))? {
            *secret = resolved;
        }
        if secret.len() < 32 {
            return Err(err(key, "an upload key needs at least 32 bytes".into()));
        }
    }

    for (i, route) in config.routes.iter_mut().enumerate() {
        let key = format!("routes[{i}]");
        if route.id.is_empty() || !seen_ids.insert(route.id.clone()) {
            return Err(err(
                format!("{key}.id"),
                format!("{:?} is empty or used by an earlier route", route.id),
            ));
        }
        if !is_label_safe(&route.id) {
            return Err(err(
                format!("{key}.id"),
                format!(
                    "{:?}: use letters, digits and - _ . : (it names the route in logs and metrics)",
                    route.id
                ),
            ));
        }
        let verifies_clients = config
            .server
            .tls
            .as_ref()
            .is_some_and(|t| t.client_auth != ClientAuth::None);
        if route.require_client_cert && !verifies_clients {
            return Err(err(
                format!("{key}.require_client_cert"),
                "needs server.tls.client_auth = \"optional\" or \"required\"".into(),
            ));
        }
        if config.default_policy == DefaultPolicy::Deny && !route.public {
            let authenticated = route.plugins.iter().any(|p| {
                config
                    .plugins
                    .get(&p.name)
                    .is_some_and(|d| d.role.authenticates())
            });
            if !authenticated {
                return Err(err(
                    format!("{key}.plugins"),
                    "default_policy = \"deny\": the route has no plugin with role = \"authentication\"; add one, or mark the route public = true".into(),
                ));
            }
        }
        let path = &route.path;
        match (&path.exact, &path.prefix, &path.regex) {
            (Some(p), None, None) | (None, Some(p), None) => {
                if !p.starts_with('/') {
                    return Err(err(
                        format!("{key}.path"),
                        format!("{p:?} must start with '/'"),
                    ));
                }
            }
            (None, None, Some(re)) => {
                if let Err(e) = regex::Regex::new(re) {
                    // The regex crate's message is a multi-line diagram; its
                    // last line says what is wrong.
                    let text = e.to_string();
                    let what = text
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .trim_start_matches("error: ");
                    return Err(err(
                        format!("{key}.path.regex"),
                        format!("invalid regular expression: {what}"),
                    ));
                }
            }
            _ => {
                return Err(err(
                    format!("{key}.path"),
                    "give exactly one of `exact`, `prefix` and `regex`".into(),
                ));
            }
        }
        for (j, method) in route.methods.iter_mut().enumerate() {
            if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(err(
                    format!("{key}.methods[{j}]"),
                    format!("{method:?} is not an HTTP method"),
                ));
            }
            *method = method.to_ascii_uppercase();
        }
        for host in &mut route.hosts {
            *host = host.to_ascii_lowercase();
        }
        super::upstreams::check(route, &key, config.geo.is_some())
            .map_err(|(k, reason)| err(k, reason))?;
        check_uploads(route, &config.upload_keys, &key).map_err(|(k, reason)| err(k, reason))?;
        for (j, entry) in route.plugins.iter_mut().enumerate() {
            let pkey = format!("{key}.plugins[{j}]");
            if !config.plugins.contains_key(&entry.name) {
                return Err(err(
                    format!("{pkey}.name"),
                    format!("no plugin {:?} in [plugins]", entry.name),
                ));
            }
            if let Some(settings) = &mut entry.settings
                && !offline
            {
                secret::resolve_table(settings, dir, &format!("{pkey}.settings"))
                    .map_err(|(key, reason)| err(key, reason))?;
            }
        }
        for (j, name) in route.rate_limits.iter().enumerate() {
            if !config.rate_limits.contains_key(name) {
                return Err(err(
                    format!("{key}.rate_limits[{j}]"),
                    format!("no rate limit {name:?} in [rate_limits]"),
                ));
            }
        }
    }

    for (name, limit) in &config.rate_limits {
        let key = format!("rate_limits.{name}");
        if let Err(reason) = crate::ratelimit::KeySource::parse(&limit.key) {
            return Err(err(format!("{key}.key"), reason));
        }
        if limit.requests == 0 || limit.per_seconds == 0 || limit.burst == Some(0) {
            return Err(err(
                key,
                "requests, per_seconds and burst must be at least 1".into(),
            ));
        }
        if limit.max_keys == 0 {
            return Err(err(format!("{key}.max_keys"), "must be at least 1".into()));
        }
    }
    let server = &config.server;
    for (key, value) in [
        ("header_read_timeout_ms", server.header_read_timeout_ms),
        ("idle_timeout_ms", server.idle_timeout_ms),
        ("request_timeout_ms", server.request_timeout_ms),
    ] {
        if value == 0 {
            return Err(err(format!("server.{key}"), "must be at least 1 ms".into()));
        }
    }
    if let Some(tls) = &config.server.tls {
        if tls.certificates.is_empty() {
            return Err(err(
                "server.tls.certificates".into(),
                "give at least one certificate".into(),
            ));
        }
        for (i, certificate) in tls.certificates.iter().enumerate() {
            if certificate.server_names.is_empty() {
                return Err(err(
                    format!("server.tls.certificates[{i}].server_names"),
                    "give at least one name (SNI), e.g. \"api.example.com\"".into(),
                ));
            }
        }
        if (tls.client_auth == ClientAuth::None) != tls.client_ca.is_none() {
            return Err(err(
                "server.tls.client_ca".into(),
                "give client_ca exactly when client_auth is \"optional\" or \"required\"".into(),
            ));
        }
    } else if config.server.http_redirect_listen.is_some() {
        return Err(err(
            "server.http_redirect_listen".into(),
            "redirects to HTTPS need [server.tls]".into(),
        ));
    }
    for (i, proxy) in config.server.trusted_proxies.iter().enumerate() {
        if crate::forwarding::parse_network(proxy).is_none() {
            return Err(err(
                format!("server.trusted_proxies[{i}]"),
                format!("{proxy:?} is not an IP address or CIDR network"),
            ));
        }
    }
    Ok(())
}

/// Whether `name` can stand in log lines and metric labels as it is.
fn is_label_safe(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// `[threats]`: statuses, limits and windows in range, the account source
/// readable.
fn check_threats(threats: &super::model::ThreatsConfig) -> Result<(), (String, String)> {
    if !matches!(threats.block_status, 403 | 429) {
        return Err((
            "threats.block_status".into(),
            "give 429 (too many requests) or 403".into(),
        ));
    }
    if threats.block_seconds == 0 || threats.max_tracked == 0 {
        return Err((
            "threats".into(),
            "block_seconds and max_tracked must be at least 1".into(),
        ));
    }
    let detectors = [
        (
            "auth_failures",
            threats
                .auth_failures
                .as_ref()
                .map(|d| (d.limit, d.window_seconds)),
        ),
        (
            "not_found",
            threats
                .not_found
                .as_ref()
                .map(|d| (d.limit, d.window_seconds)),
        ),
        (
            "waf_hits",
            threats
                .waf_hits
                .as_ref()
                .map(|d| (d.limit, d.window_seconds)),
        ),
        (
            "account_failures",
            threats
                .account_failures
                .as_ref()
                .map(|d| (d.limit, d.window_seconds)),
        ),
    ];
    for (name, settings) in detectors {
        if let Some((limit, window)) = settings
            && (limit == 0 || window == 0)
        {
            return Err((
                format!("threats.{name}"),
                "limit and window_seconds must be at least 1".into(),
            ));
        }
    }
    if let Some(account) = &threats.account_failures {
        crate::threats::AccountSource::parse(&account.account)
            .map_err(|reason| ("threats.account_failures.account".to_string(), reason))?;
    }
    if let Some(anomaly) = &threats.rate_anomaly
        && (anomaly.factor <= 1.0 || anomaly.window_seconds == 0)
    {
        return Err((
            "threats.rate_anomaly".into(),
            "factor must be above 1 and window_seconds at least 1".into(),
        ));
    }
    Ok(())
}

/// A route's signed-upload settings: the signer upstream and its table go
/// together, and keys must exist.
fn check_uploads(
    route: &super::model::RouteConfig,
    keys: &std::collections::BTreeMap<String, String>,
    key: &str,
) -> Result<(), (String, String)> {
    let is_signer = route.upstream.builtin.as_deref() == Some("upload-signer");
    match (&route.upload_signer, is_signer) {
        (Some(signer), true) => {
            let skey = format!("{key}.upload_signer");
            if !keys.contains_key(&signer.key) {
                return Err((
                    format!("{skey}.key"),
                    format!("no key {:?} in [upload_keys]", signer.key),
                ));
            }
            if !signer.path_prefix.starts_with('/') {
                return Err((format!("{skey}.path_prefix"), "must start with /".into()));
            }
            if signer.max_bytes == 0 {
                return Err((format!("{skey}.max_bytes"), "must be at least 1".into()));
            }
            if signer.default_expires_secs == 0
                || signer.default_expires_secs > signer.max_expires_secs
            {
                return Err((
                    format!("{skey}.default_expires_secs"),
                    "must be between 1 and max_expires_secs".into(),
                ));
            }
        }
        (None, true) => {
            return Err((
                format!("{key}.upload_signer"),
                "the upload-signer upstream needs an [routes.upload_signer] table".into(),
            ));
        }
        (Some(_), false) => {
            return Err((
                format!("{key}.upload_signer"),
                "only a route whose upstream is builtin = \"upload-signer\" signs uploads".into(),
            ));
        }
        (None, false) => {}
    }
    if let Some(uploads) = &route.signed_uploads
        && !keys.contains_key(&uploads.key)
    {
        return Err((
            format!("{key}.signed_uploads.key"),
            format!("no key {:?} in [upload_keys]", uploads.key),
        ));
    }
    Ok(())
}

/// `[state]`: a Redis backend needs a URL the client accepts.
fn check_state(
    state: &mut crate::config::StateConfig,
    dir: &Path,
    offline: bool,
) -> Result<(), (String, String)> {
    use crate::config::StateBackend;
    if state.backend == StateBackend::Local {
        if state.url.is_some() {
            return Err(("state.url".into(), "only with backend = \"redis\"".into()));
        }
        if state.sentinel.is_some() {
            return Err((
                "state.sentinel".into(),
                "only with backend = \"redis\"".into(),
            ));
        }
        return Ok(());
    }
    let tls = match (&state.url, &mut state.sentinel) {
        (Some(url), None) => {
            check_redis_url(url).map_err(|reason| ("state.url".to_string(), reason))?;
            check_given_once(url, state.username.is_some(), state.database.is_some())?;
            url.starts_with("rediss://")
        }
        (None, Some(sentinel)) => check_sentinel(sentinel, dir, offline)?,
        (Some(_), Some(_)) => {
            return Err((
                "state.sentinel".into(),
                "give url or [state.sentinel], not both".into(),
            ));
        }
        (None, None) => {
            return Err((
                "state.url".into(),
                "backend = \"redis\" needs url = \"redis://host:port\" or [state.sentinel]".into(),
            ));
        }
    };
    if state.timeout_ms == 0 {
        return Err(("state.timeout_ms".into(), "at least 1 ms".into()));
    }
    if let Some(ca) = &mut state.tls_ca {
        if !tls {
            return Err(("state.tls_ca".into(), "only with a rediss:// URL".into()));
        }
        *ca = dir.join(&*ca);
        if !offline && let Err(e) = std::fs::metadata(&*ca) {
            return Err((
                "state.tls_ca".into(),
                format!("cannot read {}: {e}", ca.display()),
            ));
        }
    }
    if !(1..=64).contains(&state.pool_size) {
        return Err(("state.pool_size".into(), "from 1 to 64".into()));
    }
    if state.lease == 0 {
        return Err(("state.lease".into(), "at least 1".into()));
    }
    if state.prefix.is_empty() {
        return Err((
            "state.prefix".into(),
            "give a prefix, e.g. \"portcullis:\"".into(),
        ));
    }
    if !offline {
        resolve_optional_secret(&mut state.password, dir, "state.password")?;
    }
    Ok(())
}

/// With `username` or `database` set in `[state]`, the URL must not name
/// one too: one of the two would be ignored.
fn check_given_once(url: &str, username: bool, database: bool) -> Result<(), (String, String)> {
    let Ok(info) = redis::IntoConnectionInfo::into_connection_info(url) else {
        return Ok(());
    };
    let settings = info.redis_settings();
    if username && settings.username().is_some() {
        return Err((
            "state.username".into(),
            "the URL names a user already: give it in one place".into(),
        ));
    }
    if database && settings.db() != 0 {
        return Err((
            "state.database".into(),
            "the URL names a database already: give it in one place".into(),
        ));
    }
    Ok(())
}

/// Resolve a secret (`env:NAME` / `file:PATH`) in place, if it is set.
fn resolve_optional_secret(
    secret: &mut Option<String>,
    dir: &Path,
    key: &str,
) -> Result<(), (String, String)> {
    if let Some(value) = secret
        && let Some(resolved) =
            crate::config::secret::resolve(value, dir).map_err(|e| (key.to_string(), e))?
    {
        *value = resolved;
    }
    Ok(())
}

/// Why `url` is not a Redis URL, if it is not.
fn check_redis_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Err("give a redis:// or rediss:// (TLS) URL".into());
    }
    if redis::IntoConnectionInfo::into_connection_info(url).is_err() {
        return Err("not a Redis URL".into());
    }
    Ok(())
}

/// Check `[state.sentinel]`, resolving its password; whether it speaks
/// TLS (every address `rediss://`).
fn check_sentinel(
    sentinel: &mut crate::config::SentinelConfig,
    dir: &Path,
    offline: bool,
) -> Result<bool, (String, String)> {
    if sentinel.addresses.is_empty() {
        return Err((
            "state.sentinel.addresses".into(),
            "give at least one, e.g. [\"redis://127.0.0.1:26379\"]".into(),
        ));
    }
    for (i, address) in sentinel.addresses.iter().enumerate() {
        let key = format!("state.sentinel.addresses[{i}]");
        check_redis_url(address).map_err(|reason| (key.clone(), reason))?;
        // Only the address is used: a password or database here would be
        // ignored, so it is refused instead.
        if let Ok(info) = redis::IntoConnectionInfo::into_connection_info(address.as_str()) {
            let settings = info.redis_settings();
            if settings.password().is_some() || settings.username().is_some() || settings.db() != 0
            {
                return Err((
                    key,
                    "give only host and port; the sentinels' user and password go in state.sentinel.username and .password"
                        .into(),
                ));
            }
        }
    }
    let tls = sentinel.addresses[0].starts_with("rediss://");
    if sentinel
        .addresses
        .iter()
        .any(|a| a.starts_with("rediss://") != tls)
    {
        return Err((
            "state.sentinel.addresses".into(),
            "all redis:// or all rediss://, not both".into(),
        ));
    }
    if sentinel.master.is_empty() {
        return Err((
            "state.sentinel.master".into(),
            "the name the sentinels monitor, e.g. \"mymaster\"".into(),
        ));
    }
    if !offline {
        resolve_optional_secret(&mut sentinel.password, dir, "state.sentinel.password")?;
    }
    Ok(tls)
}
