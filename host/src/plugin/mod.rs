//! The plugin runtime: load → configure → pooled instance → per-request call.
//!
//! - [`engine`]: the one wasmtime engine, pooling allocator, epoch clock;
//! - [`artifact_cache`]: compiled components cached on disk;
//! - [`compat`]: WIT version and capability checks before instantiation;
//! - [`definition`], [`pool`], [`instance`]: a loaded plugin, its configured
//!   instances, and the calls into one;
//! - [`chain`], [`edits`]: running a route's chain and applying decisions;
//! - [`decision_cache`]: decisions a plugin said may be given again;
//! - [`bindings`], [`host_impl`], [`view`], [`state`], [`kv_store`],
//!   [`outbound`]: the WIT contract's host side.

pub mod artifact_cache;
pub mod authorizer;
pub mod bindings;
pub mod body_types;
pub mod breaker;
pub mod builtin;
pub mod chain;
pub mod compat;
pub mod crypto;
pub mod decision_cache;
pub mod definition;
pub mod edits;
pub mod engine;
pub mod epoch;
mod host_impl;
pub mod instance;
mod instance_budget;
pub mod kv_store;
mod lent;
pub mod memory_tally;
pub mod outbound;
pub mod pool;
pub mod ruling;
pub mod set_clock;
pub mod state;
pub mod supply_chain;
pub mod view;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

use crate::config::{Config, ConfigError, PluginConfig};
use authorizer::Authorizer;
use bindings::{PluginBindings, PluginBindingsPre};
use chain::{Chain, Link};
use definition::{PluginDefinition, Provenance};
use kv_store::KvStore;

use crate::apikeys::ApiKeys;
use crate::ratelimit::RateLimitPolicies;
use crate::state::decisions::SharedDecisions;
use pool::InstancePool;
use state::InstanceState;

/// The engine, the linker and the state shared by all plugins.
pub struct PluginRuntime {
    engine: Engine,
    /// `engine`'s code settings, for the engine each compile makes.
    compiler: wasmtime::Config,
    linker: Linker<InstanceState>,
    kv: Arc<KvStore>,
    rate_limits: RateLimitPolicies,
    api_keys: Option<ApiKeys>,
    geo: Option<Arc<crate::geo::GeoDb>>,
    /// The shared store, for plugins with `kv_scope = "shared"`.
    pub shared: Option<Arc<crate::state::SharedState>>,
    cache_dir: Option<PathBuf>,
    signing: crate::config::SigningConfig,
    chain_budget: Option<std::time::Duration>,
    /// What the engine was built for: instances and memory per instance.
    engine_limits: (u32, u32, crate::config::VirtualMemory),
}

impl PluginRuntime {
    /// Build the engine and link WASI and the Portcullis host interfaces.
    pub fn new(
        config: &Config,
        rate_limits: RateLimitPolicies,
        api_keys: Option<ApiKeys>,
    ) -> wasmtime::Result<Self> {
        Self::after(config, rate_limits, api_keys, None)
    }

    /// As [`PluginRuntime::new`], replacing the runtime of a running
    /// configuration: its plugins' key-value state carries over, and its
    /// engine too while the engine's settings are the same, so a reload
    /// does not set up a second instance allocator.
    pub fn after(
        config: &Config,
        rate_limits: RateLimitPolicies,
        api_keys: Option<ApiKeys>,
        previous: Option<&PluginRuntime>,
    ) -> wasmtime::Result<Self> {
        let limits = (
            config.runtime.max_instances,
            config.runtime.max_memory_mib,
            config.runtime.virtual_memory,
        );
        let engine = match previous {
            Some(previous) if previous.engine_limits == limits => previous.engine.clone(),
            _ => engine::build(&config.runtime)?,
        };
        let kv = previous.map(|p| p.kv.clone());
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        PluginBindings::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
        let cache_dir = config
            .runtime
            .cache_dir
            .clone()
            .or_else(artifact_cache::default_dir);
        let geo = match &config.geo {
            Some(settings) => {
                // Loaded (and so checked) with the config.
                let db = settings
                    .loaded
                    .clone()
                    .ok_or_else(|| wasmtime::Error::msg("geo: the config was not checked"))?;
                // Reloads follow the file while anything still uses this
                // database; outside a runtime (tools, tests) nothing watches.
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    let every = std::time::Duration::from_millis(settings.reload_check_ms);
                    handle.spawn(crate::geo::watch(Arc::downgrade(&db), every));
                }
                Some(db)
            }
            None => None,
        };
        Ok(Self {
            engine,
            compiler: engine::compiler_config(&config.runtime),
            linker,
            kv: kv.unwrap_or_default(),
            rate_limits,
            api_keys,
            geo,
            shared: None,
            cache_dir,
            signing: config.signing.clone(),
            engine_limits: limits,
            chain_budget: (config.runtime.chain_budget_ms > 0)
                .then(|| std::time::Duration::from_millis(config.runtime.chain_budget_ms)),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compile, check and pre-instantiate one plugin.
    pub async fn load_definition(
        &self,
        name: &str,
        config: &PluginConfig,
    ) -> anyhow::Result<Arc<PluginDefinition>> {
        // A built-in plugin's bytes stay in the binary, untouched when its
        // compiled form is cached: they would otherwise stay resident.
        let (wasm, sha256): (Cow<'static, [u8]>, String) = match (&config.builtin, &config.path) {
            (Some(builtin), _) => {
                let (bytes, sha256) = builtin::component(builtin)
                    .ok_or_else(|| anyhow::anyhow!("no built-in plugin {builtin:?}"))?;
                (Cow::Borrowed(bytes), sha256.to_string())
            }
            (None, Some(path)) => {
                let bytes = tokio::fs::read(path)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                let sha256 = supply_chain::digest(&bytes);
                (Cow::Owned(bytes), sha256)
            }
            (None, None) => anyhow::bail!("the plugin has neither `builtin` nor `path`"),
        };
        let provenance = self.check_provenance(config, &wasm, &sha256)?;
        let engine = self.engine.clone();
        let compiler = self.compiler.clone();
        let cache_dir = self.cache_dir.clone();
        // Compiling is CPU-bound and may take seconds: keep it off the async workers.
        let component = tokio::task::spawn_blocking(move || {
            artifact_cache::compile_cached(&engine, &compiler, &wasm, &sha256, cache_dir.as_deref())
        })
        .await??;
        compat::check(&self.engine, &component, &builtin::granted(config))?;
        let imports = component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        // Validated with the config; an error here is a bug, not bad input.
        let http_allow =
            outbound::AllowList::parse(&config.http_allow).map_err(anyhow::Error::msg)?;
        let pre = self.linker.instantiate_pre(&component)?;
        let pre = PluginBindingsPre::new(pre)?;
        let mut definition = PluginDefinition::new(
            name,
            config,
            pre,
            self.kv.namespace(name),
            self.rate_limits.clone(),
            http_allow,
            self.api_keys.clone(),
        );
        definition.geo = self.geo.clone();
        // Validated with the config too.
        definition.body_types =
            body_types::BodyTypes::for_plugin(config).map_err(anyhow::Error::msg)?;
        if config.kv_scope == crate::config::KvScope::Shared
            && let Some(shared) = &self.shared
        {
            definition.kv_shared = Some(Arc::new(crate::state::kv::SharedKv::new(
                shared.clone(),
                name,
            )));
        }
        definition.provenance = Provenance {
            imports,
            ..provenance
        };
        Ok(Arc::new(definition))
    }

    /// The pin and signature checks, before anything compiles the bytes
    /// (whose digest is `sha256`).
    fn check_provenance(
        &self,
        config: &PluginConfig,
        wasm: &[u8],
        sha256: &str,
    ) -> anyhow::Result<Provenance> {
        if let Some(pinned) = &config.sha256 {
            supply_chain::check_pin(pinned, sha256)?;
        }
        let mut signature_verified = false;
        if let Some(path) = &config.path
            && (self.signing.required || config.signature.is_some())
        {
            let signature = config
                .signature
                .clone()
                .unwrap_or_else(|| supply_chain::default_signature_path(path));
            supply_chain::verify(wasm, &signature, &self.signing.trusted_keys)?;
            signature_verified = true;
        }
        Ok(Provenance {
            source: match (&config.builtin, &config.path) {
                (Some(name), _) => format!("builtin:{name}"),
                (None, Some(path)) => path.display().to_string(),
                (None, None) => String::new(),
            },
            sha256: sha256.to_string(),
            version: config.version.clone().or_else(|| {
                config
                    .builtin
                    .as_ref()
                    .map(|_| env!("CARGO_PKG_VERSION").to_string())
            }),
            signature_verified,
            imports: Vec::new(),
        })
    }

    /// Load every plugin the routes use and build each route's chain, in
    /// route order. Instances are configured here, so a `configure` error
    /// fails the load, never a request.
    pub async fn load_chains(
        &self,
        config: &Config,
        file: &Path,
    ) -> Result<Vec<Chain>, ConfigError> {
        instance_budget::check(config, file)?;
        let mut definitions: HashMap<&str, Arc<PluginDefinition>> = HashMap::new();
        let mut pools: HashMap<(String, String), Link> = HashMap::new();
        let mut chains = Vec::with_capacity(config.routes.len());
        for (i, route) in config.routes.iter().enumerate() {
            let mut links = Vec::with_capacity(route.plugins.len());
            for (j, entry) in route.plugins.iter().enumerate() {
                let key = format!("routes[{i}].plugins[{j}]");
                let plugin_config = config.plugins.get(entry.name.as_str()).ok_or_else(|| {
                    ConfigError::new(file, format!("{key}.name"), "unknown plugin")
                })?;
                let definition = match definitions.get(entry.name.as_str()) {
                    Some(definition) => definition.clone(),
                    None => {
                        let definition = self
                            .load_definition(&entry.name, plugin_config)
                            .await
                            .map_err(|e| {
                                ConfigError::new(
                                    file,
                                    format!("plugins.{}", entry.name),
                                    format!("{e:#}"),
                                )
                            })?;
                        definitions.insert(entry.name.as_str(), definition.clone());
                        definition
                    }
                };
                let settings_json = entry.settings_json(plugin_config).map_err(|e| {
                    ConfigError::new(file, format!("{key}.settings"), e.to_string())
                })?;
                let pool_key = (entry.name.clone(), settings_json.clone());
                let link = match pools.get(&pool_key) {
                    Some(link) => link.clone(),
                    None => {
                        let pool = InstancePool::start(definition, settings_json)
                            .await
                            .map_err(|e| {
                                ConfigError::new(
                                    file,
                                    key.clone(),
                                    format!("plugin {:?}: {e}", entry.name),
                                )
                            })?;
                        let shared = self.shared.as_ref().map(|state| {
                            let digest = supply_chain::digest(pool_key.1.as_bytes());
                            let namespace = format!("{}:{}", entry.name, &digest[..16]);
                            SharedDecisions::new(state.clone(), &namespace)
                        });
                        let authorizer = authorizer_of(&pool, plugin_config, shared)
                            .map_err(|reason| ConfigError::new(file, key.clone(), reason))?;
                        let link = Link { pool, authorizer };
                        pools.insert(pool_key, link.clone());
                        link
                    }
                };
                links.push(link);
            }
            chains.push(Chain::new(links, self.chain_budget));
        }
        // A plugin no route uses yet is still checked (digest, signature,
        // version, capabilities), so attaching it later cannot be the
        // first time a bad component shows.
        for (name, plugin_config) in &config.plugins {
            if !definitions.contains_key(name.as_str()) {
                self.load_definition(name, plugin_config)
                    .await
                    .map_err(|e| {
                        ConfigError::new(file, format!("plugins.{name}"), format!("{e:#}"))
                    })?;
            }
        }
        Ok(chains)
    }
}

/// The identity gate and decision cache of an authorizer plugin. One per
/// (plugin, settings), like the pool: routes with the same settings share
/// decisions.
fn authorizer_of(
    pool: &InstancePool,
    config: &PluginConfig,
    shared: Option<SharedDecisions>,
) -> Result<Option<Arc<Authorizer>>, String> {
    let Some(settings) = &config.authorizer else {
        return Ok(None);
    };
    // An authorizer that skipped the headers phase would let every request by.
    if !pool.has_phase(bindings::Phase::RequestHeaders) {
        return Err("an authorizer must implement the request-headers phase".into());
    }
    let mut authorizer =
        Authorizer::new(settings).map_err(|(field, reason)| format!("{field}: {reason}"))?;
    if let Some(shared) = shared {
        authorizer = authorizer.with_shared(shared);
    }
    Ok(Some(Arc::new(authorizer)))
}
