//! The shape of the configuration file. Every table refuses unknown keys so
//! a typo is an error, not a silently ignored setting.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `"deny"`: every route must run an authentication plugin unless it is
    /// marked `public = true` (zero trust); checked when the config loads.
    #[serde(default)]
    pub default_policy: DefaultPolicy,
    /// Listener and connection settings.
    pub server: ServerConfig,
    /// Plugin runtime settings.
    #[serde(default)]
    pub runtime: RuntimeConfig,
    /// Plugins by name; routes refer to them.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginConfig>,
    /// Rate-limit policies by name; routes refer to them.
    #[serde(default)]
    pub rate_limits: BTreeMap<String, RateLimitConfig>,
    /// Routes, matched in order; the first match wins.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// The admin API's listener, apart from the traffic listener.
    pub admin: Option<AdminConfig>,
    /// Where issued API keys are stored.
    pub api_keys: Option<ApiKeysConfig>,
    /// Usage plans of API-key consumers, by name.
    #[serde(default)]
    pub usage_plans: BTreeMap<String, UsagePlanConfig>,
    /// The IP-to-country database for the `geo` capability.
    pub geo: Option<GeoConfig>,
    /// Keys that sign upload URLs, by name: secrets of at least 32 bytes,
    /// best given as `env:NAME` or `file:PATH`.
    #[serde(default)]
    pub upload_keys: BTreeMap<String, String>,
    /// Which plugin signatures are trusted, and whether they are required.
    #[serde(default)]
    pub signing: SigningConfig,
    /// Where the access and audit logs go.
    #[serde(default)]
    pub logging: LoggingConfig,
    /// Brute force, credential stuffing, enumeration and rate anomalies.
    pub threats: Option<ThreatsConfig>,
    /// OpenTelemetry traces over OTLP/HTTP.
    pub traces: Option<TracesConfig>,
    /// Where state shared by several gateway instances lives.
    #[serde(default)]
    pub state: StateConfig,
}

/// `[state]`: `local` (each process keeps its own counters and keys) or
/// `redis`, shared by every gateway instance that names the same server
/// and prefix. Read at start: changing it needs a restart.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// `local` or `redis`.
    #[serde(default)]
    pub backend: StateBackend,
    /// `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS.
    pub url: Option<String>,
    /// Instead of `url`: Sentinel, which names the primary and follows
    /// its failovers.
    pub sentinel: Option<SentinelConfig>,
    /// The password, when not in the URL (`env:NAME` / `file:PATH`).
    pub password: Option<String>,
    /// The primary's ACL user, when not in the URL (with Sentinel, here).
    pub username: Option<String>,
    /// The database number, when not in the URL (with Sentinel, here).
    pub database: Option<u32>,
    /// With `rediss://`: the CA bundle (PEM, relative to the config file)
    /// that signs the server's certificate, instead of the system's roots.
    pub tls_ca: Option<PathBuf>,
    /// Bound on each call to Redis; past it the call counts as failed.
    #[serde(default = "default_state_timeout_ms")]
    pub timeout_ms: u64,
    /// Multiplexed connections the request path uses in turn (each
    /// carries many calls at once; more help when Redis is far away).
    #[serde(default = "default_state_pool_size")]
    pub pool_size: usize,
    /// Prefix of every key and channel, so deployments can share a server.
    #[serde(default = "default_state_prefix")]
    pub prefix: String,
    /// The most rate-limit tokens an instance takes from Redis at once
    /// (and at most a tenth of a policy's burst): fewer round trips, at
    /// the stated precision.
    #[serde(default = "default_state_lease")]
    pub lease: u32,
    /// Redis unreachable or slow: `local` limits each instance on its own,
    /// `deny` answers 503.
    #[serde(default)]
    pub rate_limits_on_error: RateLimitsOnError,
    /// Redis unreachable: `cached` checks keys against the last copy this
    /// instance received (revocations made meanwhile are not seen), `deny`
    /// refuses every key until the subscription is back.
    #[serde(default)]
    pub api_keys_on_error: ApiKeysOnError,
}

/// `[state.sentinel]`: the primary is asked of Redis Sentinel at start and
/// again after calls fail, so a failover moves every instance to the new
/// primary without a restart. `password`, `tls_ca` and `timeout_ms` of
/// `[state]` apply to the primary.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SentinelConfig {
    /// Sentinel addresses, `redis://host:26379` (`rediss://` for TLS to the
    /// sentinels and to the primary); any one answering is enough.
    pub addresses: Vec<String>,
    /// The name the sentinels monitor the primary under.
    pub master: String,
    /// The sentinels' own password, if they require one (`env:NAME` /
    /// `file:PATH`).
    pub password: Option<String>,
    /// The sentinels' own ACL user, if they have one for the gateway.
    pub username: Option<String>,
}

impl std::fmt::Debug for SentinelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addresses: Vec<String> = self.addresses.iter().map(|a| redacted_url(a)).collect();
        f.debug_struct("SentinelConfig")
            .field("addresses", &addresses)
            .field("master", &self.master)
            .field("password", &self.password.as_ref().map(|_| "REDACTED"))
            .field("username", &self.username)
            .finish()
    }
}

/// A Redis URL may hold a password too: only its scheme and the host part
/// after any `user:password@` are shown.
fn redacted_url(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://REDACTED@{host}"),
        _ => url.to_string(),
    }
}

/// Where shared state lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateBackend {
    /// In this process.
    #[default]
    Local,
    /// In a Redis server.
    Redis,
}

/// Where a plugin's key-value store lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KvScope {
    /// In this process.
    #[default]
    Local,
    /// In Redis, shared by every instance.
    Shared,
}

/// Shared rate limits when Redis fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitsOnError {
    /// Fall back to this instance's own limiter.
    #[default]
    Local,
    /// 503.
    Deny,
}

/// Shared API keys when Redis fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiKeysOnError {
    /// The last synchronized copy.
    #[default]
    Cached,
    /// Refuse every key.
    Deny,
}

impl std::fmt::Debug for StateConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password too: only its scheme and host part
        // after any `user:password@` are shown.
        f.debug_struct("StateConfig")
            .field("backend", &self.backend)
            .field("url", &self.url.as_deref().map(redacted_url))
            .field("sentinel", &self.sentinel)
            .field("password", &self.password.as_ref().map(|_| "REDACTED"))
            .field("username", &self.username)
            .field("database", &self.database)
            .field("tls_ca", &self.tls_ca)
            .field("timeout_ms", &self.timeout_ms)
            .field("pool_size", &self.pool_size)
            .field("prefix", &self.prefix)
            .field("lease", &self.lease)
            .field("rate_limits_on_error", &self.rate_limits_on_error)
            .field("api_keys_on_error", &self.api_keys_on_error)
            .finish()
    }
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            backend: StateBackend::Local,
            url: None,
            sentinel: None,
            password: None,
            username: None,
            database: None,
            tls_ca: None,
            timeout_ms: default_state_timeout_ms(),
            pool_size: default_state_pool_size(),
            prefix: default_state_prefix(),
            lease: default_state_lease(),
            rate_limits_on_error: RateLimitsOnError::default(),
            api_keys_on_error: ApiKeysOnError::default(),
        }
    }
}

fn default_state_pool_size() -> usize {
    2
}

fn default_state_timeout_ms() -> u64 {
    250
}

fn default_state_prefix() -> String {
    "portcullis:".into()
}

fn default_state_lease() -> u32 {
    20
}

/// `[traces]`: a span per request and per plugin call, exported to an
/// OTLP/HTTP collector as protobuf.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracesConfig {
    /// The collector's traces URL, e.g. `http://127.0.0.1:4318/v1/traces`.
    pub endpoint: String,
    /// The share of new traces recorded (a client's `traceparent` decides
    /// for its own).
    #[serde(default = "default_sample")]
    pub sample: f64,
    /// `service.name` of the exported resource.
    #[serde(default = "default_service_name")]
    pub service_name: String,
    /// How often queued spans are sent.
    #[serde(default = "default_export_every_ms")]
    pub export_every_ms: u64,
    /// Spans queued at most; more are dropped (and counted).
    #[serde(default = "default_max_queued")]
    pub max_queued: usize,
}

fn default_service_name() -> String {
    "portcullis".into()
}

fn default_export_every_ms() -> u64 {
    1000
}

fn default_max_queued() -> usize {
    8192
}

/// `[threats]`: detectors (each off unless its table is given) and what a
/// detection does.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreatsConfig {
    /// `block` (the default) or `detect` (alerts only).
    #[serde(default)]
    pub mode: ThreatMode,
    /// The status blocked requests get: 429 or 403.
    #[serde(default = "default_block_status")]
    pub block_status: u16,
    /// How long a block lasts.
    #[serde(default = "default_block_seconds")]
    pub block_seconds: u64,
    /// Keys each detector tracks at most.
    #[serde(default = "default_max_tracked")]
    pub max_tracked: usize,
    /// 401 answers per client address (IPv6 per /64).
    pub auth_failures: Option<DetectorConfig>,
    /// 401 answers per account, from any address.
    pub account_failures: Option<AccountDetectorConfig>,
    /// 404 answers per client address.
    pub not_found: Option<DetectorConfig>,
    /// WAF blocks per client address.
    pub waf_hits: Option<DetectorConfig>,
    /// A consumer far above its own baseline.
    pub rate_anomaly: Option<RateAnomalyConfig>,
}

/// What a detection does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThreatMode {
    /// Block, alert and count.
    #[default]
    Block,
    /// Alert and count only.
    Detect,
}

/// A detector: `limit` events in `window_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorConfig {
    /// Events that trigger it.
    pub limit: u32,
    /// The window they are counted in.
    #[serde(default = "default_threat_window")]
    pub window_seconds: u64,
}

/// `[threats.account_failures]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountDetectorConfig {
    /// Where the account is named: `header:NAME`, `query:NAME` or `basic`.
    pub account: String,
    /// Failures that trigger it.
    pub limit: u32,
    /// The window they are counted in.
    #[serde(default = "default_threat_window")]
    pub window_seconds: u64,
}

/// `[threats.rate_anomaly]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateAnomalyConfig {
    /// How many times the baseline is anomalous.
    #[serde(default = "default_anomaly_factor")]
    pub factor: f64,
    /// Requests in a window below which nothing is anomalous.
    #[serde(default = "default_anomaly_min")]
    pub min_requests: u32,
    /// The window the rate is counted in.
    #[serde(default = "default_threat_window")]
    pub window_seconds: u64,
}

fn default_block_status() -> u16 {
    429
}

fn default_block_seconds() -> u64 {
    600
}

fn default_max_tracked() -> usize {
    100_000
}

fn default_threat_window() -> u64 {
    60
}

fn default_anomaly_factor() -> f64 {
    10.0
}

fn default_anomaly_min() -> u32 {
    100
}

/// `[logging]`: the access log (one JSON line per request) and the audit
/// log (admin actions, configuration changes, plugin loads, blocks).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    /// `"stdout"`, `"off"`, or a file (relative to the config file).
    #[serde(default = "default_stdout")]
    pub access: String,
    /// `"stdout"` or a file.
    #[serde(default = "default_stdout")]
    pub audit: String,
    /// The share of requests answered below 400 that are logged (1 = all);
    /// requests answered 400 and up always are.
    #[serde(default = "default_sample")]
    pub access_sample: f64,
    /// A log file past this size is rotated to `FILE.1`.
    #[serde(default = "default_rotate_bytes")]
    pub rotate_bytes: u64,
    /// Rotated files kept.
    #[serde(default = "default_keep")]
    pub keep: u32,
    /// Query parameters whose values are logged as `REDACTED`.
    #[serde(default = "default_redacted_query")]
    pub redact_query: Vec<String>,
    /// Count requests and plugin calls for `/metrics`.
    #[serde(default = "default_true")]
    pub metrics: bool,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            access: default_stdout(),
            audit: default_stdout(),
            access_sample: default_sample(),
            rotate_bytes: default_rotate_bytes(),
            keep: default_keep(),
            redact_query: default_redacted_query(),
            metrics: true,
        }
    }
}

impl LoggingConfig {
    fn destination(&self, value: &str) -> crate::telemetry::sink::Destination {
        match value {
            "stdout" => crate::telemetry::sink::Destination::Stdout,
            path => crate::telemetry::sink::Destination::File {
                path: PathBuf::from(path),
                rotate_bytes: self.rotate_bytes,
                keep: self.keep,
            },
        }
    }

    /// Where access lines go; `None` when off.
    pub fn access_destination(&self) -> Option<crate::telemetry::sink::Destination> {
        (self.access != "off").then(|| self.destination(&self.access))
    }

    /// Where audit lines go.
    pub fn audit_destination(&self) -> crate::telemetry::sink::Destination {
        self.destination(&self.audit)
    }

    /// Log one in this many successful requests.
    pub fn sample_every(&self) -> u64 {
        if self.access_sample >= 1.0 || self.access_sample <= 0.0 {
            1
        } else {
            (1.0 / self.access_sample).round() as u64
        }
    }
}

fn default_stdout() -> String {
    "stdout".into()
}

fn default_sample() -> f64 {
    1.0
}

fn default_rotate_bytes() -> u64 {
    100 * 1024 * 1024
}

fn default_keep() -> u32 {
    5
}

/// Query parameters that carry credentials in common APIs.
pub fn default_redacted_query() -> Vec<String> {
    [
        "access_token",
        "id_token",
        "refresh_token",
        "token",
        "api_key",
        "apikey",
        "key",
        "code",
        "password",
        "secret",
        "client_secret",
        "sig",
        "signature",
        "x-amz-signature",
        "pc-signature",
    ]
    .map(String::from)
    .to_vec()
}

/// `[signing]`: ed25519 signatures of plugin components
/// (`portcullis plugin sign`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// Refuse to load a component (`path`) without a valid signature by a
    /// trusted key. Built-in plugins are part of the gateway binary.
    #[serde(default)]
    pub required: bool,
    /// Public keys as `portcullis plugin keygen` prints them (64 hex digits).
    #[serde(default)]
    pub trusted_keys: Vec<String>,
}

/// `[geo]`: where countries come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoConfig {
    /// A MaxMind DB format file (`.mmdb`), relative to the config file.
    pub database: std::path::PathBuf,
    /// How often to check the file for changes, in milliseconds.
    #[serde(default = "default_geo_reload_check_ms")]
    pub reload_check_ms: u64,
    /// The database as the config check loaded it, so the plugin runtime
    /// does not read and parse the file a second time.
    #[serde(skip)]
    pub loaded: Option<std::sync::Arc<crate::geo::GeoDb>>,
}

fn default_geo_reload_check_ms() -> u64 {
    2000
}

/// `[admin]`: the admin API (API keys), on a listener of its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address to listen on; loopback by default.
    #[serde(default = "default_admin_listen")]
    pub listen: SocketAddr,
    /// Lower-case hex SHA-256 of the bearer token callers may present
    /// (`portcullis admin-token` makes a token and prints both).
    pub token_sha256: Option<String>,
    /// HTTPS for the admin API; with `client_auth`, a verified client
    /// certificate authenticates a caller as the token does. Required on
    /// an address beyond loopback.
    pub tls: Option<TlsConfig>,
    /// With `[admin.tls]` client certificates: the subjects (as
    /// `CN=operator`) whose certificates are admins; any the CA verified
    /// when empty.
    #[serde(default)]
    pub client_subjects: Vec<String>,
    /// Where components uploaded through the admin API are stored,
    /// relative to the config file.
    #[serde(default = "default_upload_dir")]
    pub plugin_dir: PathBuf,
}

fn default_upload_dir() -> PathBuf {
    PathBuf::from("uploaded-plugins")
}

fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9901))
}

/// `[api_keys]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeysConfig {
    /// The key database file (redb), relative to the config file; created
    /// if missing. Holds key ids, SHA-256 hashes, consumers and plans.
    /// Not used (and not needed) with `[state] backend = "redis"`, where
    /// the keys live in Redis.
    pub store: Option<PathBuf>,
}

/// `[usage_plans.NAME]`: what one consumer may use.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsagePlanConfig {
    /// Requests per `per_seconds` (native GCRA); none: no rate limit.
    pub requests: Option<u32>,
    /// Window of `requests`, in seconds.
    #[serde(default = "default_per_seconds")]
    pub per_seconds: u64,
    /// Requests allowed at once (default: `requests`).
    pub burst: Option<u32>,
    /// Requests per quota period; none: no quota.
    pub quota: Option<u64>,
    /// `day` or `month` (UTC calendar periods).
    #[serde(default)]
    pub quota_period: QuotaPeriod,
}

/// A quota's period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuotaPeriod {
    /// A UTC calendar day.
    #[default]
    Day,
    /// A UTC calendar month.
    Month,
}

/// What a route without an authentication plugin is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultPolicy {
    /// Allowed: routes choose their own plugins.
    #[default]
    Allow,
    /// Refused at load unless the route is `public = true`.
    Deny,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on, e.g. `127.0.0.1:8080` (port 0 picks a free one).
    pub listen: SocketAddr,
    /// On SIGINT/SIGTERM, how long in-flight requests may take to finish.
    #[serde(default = "default_grace_period_ms")]
    pub grace_period_ms: u64,
    /// Largest request body accepted, in bytes; larger ones get 413.
    #[serde(default = "default_max_request_body_bytes")]
    pub max_request_body_bytes: u64,
    /// Peers (CIDRs) whose `X-Forwarded-For` is believed. From anyone else
    /// the header is kept but ignored: the client is the socket's peer.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// A connection with no request open (since it was accepted, or since
    /// its last response ended) that has not received a whole request head
    /// by then is closed, however many bytes trickle in (slowloris). Also
    /// bounds an HTTP/2 client's wait before its first request.
    #[serde(default = "default_header_read_timeout_ms")]
    pub header_read_timeout_ms: u64,
    /// A connection with no request in flight and no bytes moving for this
    /// long is closed (HTTP/1.1 keep-alive and HTTP/2). An HTTP/1.1
    /// connection waiting for its next request is also bound by
    /// `header_read_timeout_ms`, whichever is shorter.
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    /// The most time a request may take from its head arriving to its
    /// response head (body upload, plugins and upstream included); past it
    /// the client gets 504. An HTTP/1 request's deadline is checked on its
    /// connection's tick (a quarter of the shortest of this,
    /// `idle_timeout_ms` and `header_read_timeout_ms`), so it may end up to
    /// that much later.
    #[serde(default = "default_total_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Most connections open at once; more are closed on accept.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Most connections open at once from one client address (0 = no cap).
    #[serde(default = "default_max_connections_per_ip")]
    pub max_connections_per_ip: usize,
    /// Largest HTTP/1 request head (request line and headers) accepted;
    /// larger ones get 431. At least 8192.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    /// Serve HTTPS on `listen` with these certificates.
    pub tls: Option<TlsConfig>,
    /// A plain-HTTP address that only redirects (308) to the HTTPS listener.
    pub http_redirect_listen: Option<SocketAddr>,
    /// Most concurrent HTTP/2 streams per connection.
    #[serde(default = "default_h2_max_concurrent_streams")]
    pub h2_max_concurrent_streams: u32,
    /// How often the config file, and the plugin components it names, are
    /// checked for changes that trigger a reload; 0 turns it off (SIGHUP
    /// and the admin API still reload).
    #[serde(default = "default_reload_check_ms")]
    pub reload_check_ms: u64,
}

fn default_reload_check_ms() -> u64 {
    1000
}

fn default_header_read_timeout_ms() -> u64 {
    30_000
}

fn default_idle_timeout_ms() -> u64 {
    60_000
}

fn default_total_request_timeout_ms() -> u64 {
    60_000
}

fn default_max_connections() -> usize {
    10_000
}

fn default_max_connections_per_ip() -> usize {
    256
}

fn default_max_header_bytes() -> usize {
    64 * 1024
}

fn default_h2_max_concurrent_streams() -> u32 {
    100
}

fn default_grace_period_ms() -> u64 {
    10_000
}

fn default_max_request_body_bytes() -> u64 {
    64 * 1024 * 1024
}

/// `[runtime]`: how plugins are compiled and run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Where compiled plugins are cached, keyed by content hash and engine
    /// settings. Default: `$PORTCULLIS_CACHE_DIR`, else `$XDG_CACHE_HOME/portcullis`,
    /// else `~/.cache/portcullis`.
    pub cache_dir: Option<PathBuf>,
    /// Upper bound on live plugin instances across all plugins.
    #[serde(default = "default_max_instances")]
    pub max_instances: u32,
    /// Upper bound on any one instance's linear memory, in MiB.
    #[serde(default = "default_max_memory_mib")]
    pub max_memory_mib: u32,
    /// How much address space each instance's memory reserves.
    #[serde(default)]
    pub virtual_memory: VirtualMemory,
    /// Wall-clock time all the plugin calls of one request may take
    /// together, in milliseconds, on top of each plugin's `timeout_ms`;
    /// past it the request gets 503. 0 (the default) sets no such budget.
    #[serde(default)]
    pub chain_budget_ms: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            max_instances: default_max_instances(),
            max_memory_mib: default_max_memory_mib(),
            virtual_memory: VirtualMemory::default(),
            chain_budget_ms: 0,
        }
    }
}

/// How plugin memories are laid out in the address space.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VirtualMemory {
    /// Each memory reserves 4 GiB plus guard pages, so compiled code needs
    /// no bounds checks: the fastest, at terabytes of reserved (not used)
    /// address space for the default `max_instances`.
    #[default]
    Guarded,
    /// Each memory reserves only `max_memory_mib`, and compiled code checks
    /// bounds: for hosts that cap address space (`ulimit -v`, some
    /// containers, valgrind).
    Compact,
}

fn default_max_instances() -> u32 {
    256
}

fn default_max_memory_mib() -> u32 {
    512
}

/// `[plugins.NAME]`: where a plugin comes from and what it may do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// A plugin built into the gateway (`ip-filter`, `headers`).
    pub builtin: Option<String>,
    /// A component file (`.wasm`), relative to the config file.
    pub path: Option<PathBuf>,
    /// What the plugin is for; only `authentication` plugins may set the principal.
    #[serde(default)]
    pub role: PluginRole,
    /// Host capabilities granted: `log`, `clock`, `kv`, `rate-limit`,
    /// `outbound-http`. None by default (built-in plugins come with the
    /// ones they are written for).
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// Where the plugin's `kv` store lives: `local` (this process) or
    /// `shared` (Redis, every instance; needs `[state] backend = "redis"`).
    #[serde(default)]
    pub kv_scope: KvScope,
    /// For `role = "authorizer"`: its identity sources and decision cache.
    pub authorizer: Option<AuthorizerConfig>,
    /// Origins (`https://host[:port]`) the plugin may call through
    /// `outbound-http`; none by default.
    #[serde(default)]
    pub http_allow: Vec<String>,
    /// Directories the plugin may read (never write), by the name it sees
    /// them under: `crs = "rules/crs"` makes `/crs` in the plugin the
    /// directory `rules/crs` beside the config file. None by default.
    #[serde(default)]
    pub mounts: std::collections::BTreeMap<String, PathBuf>,
    /// What a request gets when the plugin fails (traps, times out, cannot
    /// get an instance): `deny` (503) or `allow` (skip the plugin).
    pub on_error: Option<OnError>,
    /// Required alongside `on_error = "allow"` on an `authentication` plugin:
    /// failing open there lets unauthenticated requests through.
    #[serde(default)]
    pub allow_unauthenticated_on_error: bool,
    /// Wall-clock budget for one call, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Linear memory cap per instance, in MiB.
    #[serde(default = "default_memory_limit_mib")]
    pub memory_limit_mib: u32,
    /// Largest body, in bytes, buffered for this plugin's body phases.
    #[serde(default = "default_body_budget")]
    pub body_budget: u64,
    /// What happens when a body is larger than `body_budget`.
    #[serde(default)]
    pub over_budget: OverBudget,
    /// Media ranges (`application/json`, `text/*`, `*/json`, `*/*+json`,
    /// `*/*`) whose bodies reach the body phases, matched on the first
    /// `Content-Type`; any other body passes the plugin by, neither
    /// buffered for it nor lent. Every body when unset; the built-in `mask`
    /// defaults to the JSON and text it masks.
    pub body_content_types: Option<Vec<String>>,
    /// Instance pool settings.
    #[serde(default)]
    pub pool: PoolConfig,
    /// Settings used on routes that give none of their own.
    #[serde(default = "empty_table")]
    pub settings: toml::Table,
    /// The component's SHA-256 (64 lower-case hex digits): any other
    /// content is refused.
    pub sha256: Option<String>,
    /// The component's ed25519 signature file; default `PATH.sig`.
    pub signature: Option<PathBuf>,
    /// A version label, shown by the admin API.
    pub version: Option<String>,
    /// When repeated failures stop calls to the plugin for a while.
    #[serde(default)]
    pub breaker: BreakerConfig,
    /// Most `request-headers` decisions kept for a plugin that says, through
    /// `decision-cache`, that its decision may be given again (the built-in
    /// `jwt`, `rbac`, `ip-filter`, `headers` and `geo` do); 0 calls the
    /// plugin on every request.
    #[serde(default = "default_decision_cache_entries")]
    pub decision_cache_entries: usize,
}

/// `[plugins.NAME.breaker]`: a plugin that traps or times out at least
/// `failures` times within `window_ms`, in at least `failure_ratio` of its
/// calls there, is not called for `cooldown_ms`: its `on_error` outcome
/// applies at once. Then one call is let through; its success closes the
/// breaker, its failure opens it again.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Failures that open it, at the least; 0 turns the breaker off.
    #[serde(default = "default_breaker_failures")]
    pub failures: u32,
    /// The share of the window's calls that must have failed too.
    #[serde(default = "default_breaker_failure_ratio")]
    pub failure_ratio: f64,
    /// The window they are counted in.
    #[serde(default = "default_breaker_window_ms")]
    pub window_ms: u64,
    /// How long it stays open.
    #[serde(default = "default_breaker_cooldown_ms")]
    pub cooldown_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures: default_breaker_failures(),
            failure_ratio: default_breaker_failure_ratio(),
            window_ms: default_breaker_window_ms(),
            cooldown_ms: default_breaker_cooldown_ms(),
        }
    }
}

fn default_breaker_failures() -> u32 {
    5
}

fn default_breaker_failure_ratio() -> f64 {
    0.5
}

fn default_breaker_window_ms() -> u64 {
    10_000
}

fn default_breaker_cooldown_ms() -> u64 {
    30_000
}

fn default_decision_cache_entries() -> usize {
    10_000
}

fn default_timeout_ms() -> u64 {
    50
}

fn default_memory_limit_mib() -> u32 {
    64
}

fn default_body_budget() -> u64 {
    1024 * 1024
}

fn empty_table() -> toml::Table {
    toml::Table::new()
}

/// A plugin's role in the chain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginRole {
    /// Establishes who the client is; may set the principal.
    Authentication,
    /// A Lambda-style custom authorizer: called with identity sources the
    /// host extracts (401 without a call when one is missing), its
    /// decisions cached by the host. May set the principal.
    Authorizer,
    /// Any other policy.
    #[default]
    Policy,
}

impl PluginRole {
    /// Whether the plugin establishes identity (may set the principal,
    /// counts as authentication under `default_policy = "deny"`).
    pub fn authenticates(self) -> bool {
        matches!(self, PluginRole::Authentication | PluginRole::Authorizer)
    }
}

/// `[plugins.NAME.authorizer]`: what a custom authorizer is given and how
/// long its decisions are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizerConfig {
    /// `token` (one header) or `request` (any identity sources).
    #[serde(rename = "type")]
    pub kind: AuthorizerKind,
    /// `header:NAME`, `query:NAME`, `context:KEY`, `principal`, `method`,
    /// `path`. All must be present and non-empty, else 401 without a call.
    pub identity_sources: Vec<String>,
    /// `token` only: the header value must match, else 401 without a call.
    pub validation_regex: Option<String>,
    /// Seconds an allow is cached: 0 disables, at most 3600.
    #[serde(default = "default_authorizer_ttl_s")]
    pub ttl_s: u64,
    /// Seconds a denial (401/403) is cached, in a cache of its own so a
    /// flood of bad credentials cannot push out good ones; default `ttl_s`.
    pub negative_ttl_s: Option<u64>,
    /// Most decisions kept in each of the two caches.
    #[serde(default = "default_authorizer_max_entries")]
    pub max_entries: usize,
    /// Context entries the authorizer set, sent upstream as headers:
    /// entry → header name. The headers are removed when the entry is unset.
    #[serde(default)]
    pub context_headers: std::collections::BTreeMap<String, String>,
}

/// AWS's two authorizer shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorizerKind {
    /// One header carries the credential.
    Token,
    /// Any combination of identity sources.
    Request,
}

fn default_authorizer_ttl_s() -> u64 {
    300
}

fn default_authorizer_max_entries() -> usize {
    10_000
}

/// A host capability a plugin may be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// `portcullis:policy/log`
    Log,
    /// `portcullis:policy/clock`
    Clock,
    /// `portcullis:policy/kv`
    Kv,
    /// `portcullis:policy/rate-limit`
    RateLimit,
    /// `portcullis:policy/outbound-http`
    OutboundHttp,
    /// `portcullis:policy/api-keys`
    ApiKeys,
    /// `portcullis:policy/crypto`
    Crypto,
    /// `portcullis:policy/geo`
    Geo,
    /// `portcullis:policy/metrics`
    Metrics,
    /// `portcullis:policy/decision-cache`
    DecisionCache,
}

impl Capability {
    /// The capability's WIT interface name.
    pub fn interface(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Clock => "clock",
            Capability::Kv => "kv",
            Capability::RateLimit => "rate-limit",
            Capability::OutboundHttp => "outbound-http",
            Capability::ApiKeys => "api-keys",
            Capability::Crypto => "crypto",
            Capability::Geo => "geo",
            Capability::Metrics => "metrics",
            Capability::DecisionCache => "decision-cache",
        }
    }
}

/// What a request gets when its plugin fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// Answer 503: fail closed.
    Deny,
    /// Skip the plugin: fail open.
    Allow,
}

/// What happens to a body larger than the plugin's budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverBudget {
    /// Answer 413.
    #[default]
    Deny,
    /// Run without this plugin's body phases.
    Skip,
}

/// `[plugins.NAME.pool]`: how instances are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// Instances kept configured and ready.
    #[serde(default = "default_prewarm")]
    pub prewarm: u32,
    /// Most instances alive at once (so most concurrent calls).
    #[serde(default = "default_pool_max")]
    pub max: u32,
    /// Requests an instance serves before it is replaced.
    #[serde(default = "default_max_uses")]
    pub max_uses: u64,
    /// How long a request waits for a free instance before a 503.
    #[serde(default = "default_acquire_timeout_ms")]
    pub acquire_timeout_ms: u64,
    /// `pooled` reuses instances; `per-request` gives every request a
    /// never-used instance (guest memory is never shared between requests).
    #[serde(default)]
    pub isolation: Isolation,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            prewarm: default_prewarm(),
            max: default_pool_max(),
            max_uses: default_max_uses(),
            acquire_timeout_ms: default_acquire_timeout_ms(),
            isolation: Isolation::default(),
        }
    }
}

fn default_prewarm() -> u32 {
    2
}

fn default_pool_max() -> u32 {
    16
}

fn default_max_uses() -> u64 {
    10_000
}

fn default_acquire_timeout_ms() -> u64 {
    1_000
}

/// How instances are shared between requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// Instances are reused up to `max_uses` times.
    #[default]
    Pooled,
    /// Each request gets a fresh instance, prepared ahead in the background.
    PerRequest,
}

/// `[[routes]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// A name for logs and metrics; unique.
    pub id: String,
    /// Hosts this route serves (exact, or `*.example.com`); any if empty.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// How the path must match.
    pub path: PathMatch,
    /// Methods this route serves; any if empty.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Where requests go.
    pub upstream: UpstreamConfig,
    /// The plugin chain, run in this order on requests and in reverse on responses.
    #[serde(default)]
    pub plugins: Vec<RoutePluginConfig>,
    /// Largest request body for this route (413 past it, before the
    /// upstream sees any of it). Default 10 MiB; never more than
    /// `server.max_request_body_bytes`.
    #[serde(default = "default_route_max_body_bytes")]
    pub max_body_bytes: u64,
    /// Refuse (403) requests whose connection has no verified client
    /// certificate (needs `server.tls.client_auth`).
    #[serde(default)]
    pub require_client_cert: bool,
    /// Rate-limit policies (keys of `[rate_limits]`) applied to this route.
    #[serde(default)]
    pub rate_limits: Vec<String>,
    /// Served without authentication even under `default_policy = "deny"`.
    #[serde(default)]
    pub public: bool,
    /// What the plain-HTTP listener (`server.http_redirect_listen`) does
    /// with requests for this route.
    #[serde(default)]
    pub plain_http: PlainHttp,
    /// This route issues signed upload URLs (its upstream is
    /// `builtin = "upload-signer"`).
    pub upload_signer: Option<UploadSignerConfig>,
    /// This route accepts signed upload URLs, whose bodies may exceed
    /// `max_body_bytes` up to the signed size.
    pub signed_uploads: Option<SignedUploadsConfig>,
    /// Data residency: clients from these countries go to their region's
    /// upstream instead of `upstream`, which serves everyone else.
    #[serde(default)]
    pub regions: Vec<RegionConfig>,
    /// When a client's home pool is down, answer 503 rather than send the
    /// request to another region's pool.
    #[serde(default)]
    pub no_cross_border_failover: bool,
}

/// `[[routes.regions]]`: one region's upstream pool.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionConfig {
    /// A name for logs, e.g. `eu`.
    pub name: String,
    /// ISO 3166-1 alpha-2 codes and groups (`EU`, `EEA`) whose clients
    /// this region serves.
    pub countries: Vec<String>,
    /// Its pool. `strip_prefix` is the route's, set on `[routes.upstream]`.
    pub upstream: UpstreamConfig,
}

/// `[routes.upload_signer]`: what the signing endpoint may sign.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadSignerConfig {
    /// The key (in `[upload_keys]`) to sign with.
    pub key: String,
    /// Paths it signs must start with this.
    pub path_prefix: String,
    /// The largest size it signs, in bytes.
    pub max_bytes: u64,
    /// How long a URL lives unless the caller asks for less.
    #[serde(default = "default_upload_expiry")]
    pub default_expires_secs: u64,
    /// The longest life a caller may ask for.
    #[serde(default = "default_upload_max_expiry")]
    pub max_expires_secs: u64,
}

fn default_upload_expiry() -> u64 {
    900
}

fn default_upload_max_expiry() -> u64 {
    3600
}

/// `[routes.signed_uploads]`: which signed URLs the route accepts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedUploadsConfig {
    /// The key (in `[upload_keys]`) URLs must be signed with.
    pub key: String,
    /// Refuse (403) requests without a signed URL.
    #[serde(default = "default_true")]
    pub required: bool,
}

/// A route's answer on the plain-HTTP listener.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlainHttp {
    /// 308 to the same URL over HTTPS.
    #[default]
    Redirect,
    /// 403: for APIs, a client that sent a credential in clear text should
    /// fail loudly, not be silently redirected after the fact.
    Refuse,
}

/// How a route matches the path: exactly one of the keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathMatch {
    /// The path equals this.
    pub exact: Option<String>,
    /// The path starts with this, at a segment boundary (`/api` matches
    /// `/api` and `/api/x`, not `/apix`).
    pub prefix: Option<String>,
    /// The whole path matches this regular expression.
    pub regex: Option<String>,
}

/// `[routes.upstream]`: exactly one of `targets` and `builtin`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// `host:port` targets, balanced round-robin.
    #[serde(default)]
    pub targets: Vec<String>,
    /// A built-in upstream: `echo` answers with a JSON description of the request.
    pub builtin: Option<String>,
    /// With a `prefix` route, remove the prefix before forwarding.
    #[serde(default)]
    pub strip_prefix: bool,
    /// TCP connect timeout.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Time from sending the request to the response headers.
    #[serde(default = "default_request_timeout_ms")]
    pub timeout_ms: u64,
    /// Extra attempts, on other targets, for idempotent requests without a
    /// body whose connection failed (none with a single target).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Consecutive failures that eject a target.
    #[serde(default = "default_eject_after")]
    pub eject_after_failures: u32,
    /// Speak TLS to the targets.
    pub tls: Option<UpstreamTlsConfig>,
    /// How long an ejected target is left out.
    #[serde(default = "default_eject_ms")]
    pub eject_ms: u64,
    /// Idle keep-alive connections kept per target (as nginx's `keepalive`):
    /// a burst of concurrent requests opens more, which close once done
    /// instead of each holding buffers for the idle timeout.
    #[serde(default = "default_max_idle_connections")]
    pub max_idle_connections: usize,
}

fn default_max_idle_connections() -> usize {
    128
}

fn default_route_max_body_bytes() -> u64 {
    10 * 1024 * 1024
}

fn default_connect_timeout_ms() -> u64 {
    2_000
}

fn default_request_timeout_ms() -> u64 {
    30_000
}

fn default_retries() -> u32 {
    1
}

fn default_eject_after() -> u32 {
    3
}

fn default_eject_ms() -> u64 {
    10_000
}

/// `[[routes.plugins]]`: one link of a route's chain.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutePluginConfig {
    /// A key of `[plugins]`.
    pub name: String,
    /// Settings for this route, passed to the plugin's `configure` as JSON.
    /// Replaces the plugin's default `settings` when given. String values
    /// written `env:NAME` or `file:PATH` are secrets resolved at load.
    pub settings: Option<toml::Table>,
}

impl RoutePluginConfig {
    /// The settings `configure` gets on this route, as JSON: the route's
    /// own, else `plugin`'s. With the plugin's name, they key its
    /// instance pool.
    pub fn settings_json(&self, plugin: &PluginConfig) -> serde_json::Result<String> {
        serde_json::to_string(self.settings.as_ref().unwrap_or(&plugin.settings))
    }
}

/// `[rate_limits.NAME]`: a GCRA limit (governor) of `requests` per
/// `per_seconds`, allowing bursts of `burst`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// What is limited: `ip` (the client), `route` (everyone together),
    /// `consumer` (the principal set by an authentication plugin; checked
    /// after the request-headers phase), or `header:NAME` (e.g. an API key).
    pub key: String,
    /// Requests allowed per window.
    pub requests: u32,
    /// Window length in seconds.
    #[serde(default = "default_per_seconds")]
    pub per_seconds: u64,
    /// Requests allowed at once after a quiet period (default: `requests`).
    pub burst: Option<u32>,
    /// Most distinct keys tracked. Past it, all traffic of the policy is
    /// counted in 1024 shared buckets (hashed keys) until idle keys are
    /// evicted, so a flood of distinct clients cannot exhaust memory.
    #[serde(default = "default_max_keys")]
    pub max_keys: usize,
}

fn default_per_seconds() -> u64 {
    1
}

fn default_max_keys() -> usize {
    100_000
}

/// `[server.tls]`: HTTPS with rustls; TLS 1.2 and 1.3 only, ALPN `h2` and
/// `http/1.1`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificates, chosen by the SNI name the client sends; the first one
    /// also answers clients that send no name or an unknown one.
    pub certificates: Vec<CertificateConfig>,
    /// `Strict-Transport-Security` on every HTTPS response.
    #[serde(default)]
    pub hsts: HstsConfig,
    /// How long a TLS handshake may take.
    #[serde(default = "default_handshake_timeout_ms")]
    pub handshake_timeout_ms: u64,
    /// Client certificates: `none`, `optional` (verified when presented)
    /// or `required`.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// PEM bundle of the CAs client certificates must chain to.
    pub client_ca: Option<PathBuf>,
}

/// Whether clients present certificates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientAuth {
    /// Never asked for.
    #[default]
    None,
    /// Asked for and verified when presented.
    Optional,
    /// A verified certificate is required to connect.
    Required,
}

fn default_handshake_timeout_ms() -> u64 {
    10_000
}

/// `[[server.tls.certificates]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateConfig {
    /// PEM certificate chain, leaf first (relative to the config file).
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// SNI names this certificate answers: exact, or `*.example.com`.
    pub server_names: Vec<String>,
}

/// `[server.tls.hsts]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HstsConfig {
    /// Send the header at all.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// `max-age` in seconds (default two years).
    #[serde(default = "default_hsts_max_age")]
    pub max_age: u64,
    /// Add `includeSubDomains`.
    #[serde(default)]
    pub include_subdomains: bool,
    /// Add `preload`.
    #[serde(default)]
    pub preload: bool,
}

impl Default for HstsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_age: default_hsts_max_age(),
            include_subdomains: false,
            preload: false,
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_hsts_max_age() -> u64 {
    63_072_000
}

/// `[routes.upstream.tls]`: HTTPS to the targets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTlsConfig {
    /// PEM bundle of the CAs the targets' certificates must chain to
    /// (relative to the config file). Default: the Mozilla root set.
    pub ca: Option<PathBuf>,
    /// The name sent as SNI and verified in the certificate. Default: the
    /// target's host.
    pub server_name: Option<String>,
    /// A client certificate (PEM chain) for upstream mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// Its key (PEM).
    pub client_key: Option<PathBuf>,
}
