//! A plugin as loaded from config: compiled, checked and pre-instantiated
//! once, shared by every route and pool that uses it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::bindings::PluginBindingsPre;
use super::body_types::BodyTypes;
use super::breaker::Breaker;
use super::kv_store::KvNamespace;
use super::outbound::AllowList;
use super::state::InstanceState;
use crate::apikeys::ApiKeys;
use crate::config::{OnError, OverBudget, PluginConfig, PluginRole, PoolConfig};
use crate::ratelimit::RateLimitPolicies;

/// A loaded plugin.
pub struct PluginDefinition {
    /// Its name in `[plugins]`.
    pub name: Arc<str>,
    /// What it may write into the context.
    pub role: PluginRole,
    /// What a request gets when it fails.
    pub on_error: OnError,
    /// Budget of one call.
    pub timeout: Duration,
    /// Memory cap of one instance.
    pub memory_limit_bytes: usize,
    /// Largest body lent to it.
    pub body_budget: u64,
    /// What happens to a larger body.
    pub over_budget: OverBudget,
    /// The bodies its body phases see, by type.
    pub body_types: BodyTypes,
    /// Pool settings.
    pub pool: PoolConfig,
    /// Linked, type-checked, ready to instantiate.
    pub pre: PluginBindingsPre<InstanceState>,
    /// Its key-value namespace.
    pub kv: KvNamespace,
    /// With `kv_scope = "shared"`: the plugin's keys in Redis instead.
    pub kv_shared: Option<Arc<crate::state::kv::SharedKv>>,
    /// The gateway's rate-limit policies, for the `rate-limit` capability.
    pub rate_limits: RateLimitPolicies,
    /// Origins it may call, for the `outbound-http` capability.
    pub http_allow: AllowList,
    /// The gateway's API keys, for the `api-keys` capability.
    pub api_keys: Option<ApiKeys>,
    /// The country database, for the `geo` capability.
    pub geo: Option<Arc<crate::geo::GeoDb>>,
    /// Host directories the plugin reads, and the path it sees each at.
    pub mounts: Vec<(std::path::PathBuf, String)>,
    /// Where it came from, its digest and what it imports.
    pub provenance: Provenance,
    /// Its crash-loop breaker.
    pub breaker: Breaker,
    /// Call counts since it was loaded.
    pub stats: PluginStats,
    /// Its metric handles.
    pub metrics: crate::telemetry::metrics::PluginMetrics,
    /// A wall clock to use instead of the system's (`plugin test`).
    pub clock: Option<Arc<super::set_clock::SetClock>>,
    /// Whether what the plugin prints reaches the console (`plugin test`;
    /// in the gateway its output goes nowhere).
    pub show_output: bool,
    /// Most decisions kept when the plugin says they may be given again.
    pub decision_cache_entries: usize,
}

/// What the admin API tells about a loaded component.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Provenance {
    /// `builtin:NAME` or the component file.
    pub source: String,
    /// Lower-case hex SHA-256 of the component.
    pub sha256: String,
    /// The config's version label, or the gateway's for a built-in.
    pub version: Option<String>,
    /// Whether a trusted key's signature was checked.
    pub signature_verified: bool,
    /// Every interface it imports, WASI included.
    pub imports: Vec<String>,
}

/// Counts of one plugin's calls.
#[derive(Debug, Default)]
pub struct PluginStats {
    /// Calls made.
    pub calls: AtomicU64,
    /// Calls that trapped or timed out.
    pub failures: AtomicU64,
    /// Denials.
    pub denials: AtomicU64,
    /// Calls not made because the breaker was open.
    pub skipped: AtomicU64,
    /// Calls not made because the plugin's earlier decision was kept.
    pub reused: AtomicU64,
}

impl PluginStats {
    /// As JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "calls": self.calls.load(Ordering::Relaxed),
            "failures": self.failures.load(Ordering::Relaxed),
            "denials": self.denials.load(Ordering::Relaxed),
            "skipped_by_breaker": self.skipped.load(Ordering::Relaxed),
            "decisions_reused": self.reused.load(Ordering::Relaxed),
        })
    }
}

impl PluginDefinition {
    /// Assemble from config and a pre-instantiated component.
    pub fn new(
        name: &str,
        config: &PluginConfig,
        pre: PluginBindingsPre<InstanceState>,
        kv: KvNamespace,
        rate_limits: RateLimitPolicies,
        http_allow: AllowList,
        api_keys: Option<ApiKeys>,
    ) -> Self {
        Self {
            name: Arc::from(name),
            role: config.role,
            on_error: config.on_error.unwrap_or(OnError::Deny),
            timeout: Duration::from_millis(config.timeout_ms),
            memory_limit_bytes: usize::try_from(config.memory_limit_mib).unwrap_or(usize::MAX)
                << 20,
            body_budget: config.body_budget,
            over_budget: config.over_budget,
            body_types: BodyTypes::default(),
            pool: config.pool.clone(),
            pre,
            kv,
            kv_shared: None,
            rate_limits,
            http_allow,
            api_keys,
            geo: None,
            provenance: Provenance::default(),
            breaker: Breaker::new(&config.breaker),
            stats: PluginStats::default(),
            metrics: crate::telemetry::get().metrics.plugin(name),
            clock: None,
            show_output: false,
            decision_cache_entries: config.decision_cache_entries,
            mounts: config
                .mounts
                .iter()
                .map(|(name, dir)| (dir.clone(), format!("/{name}")))
                .collect(),
        }
    }
}
