//! A running configuration: compiled routes with their upstreams and plugin
//! chains, and the plugin runtime that backs them.

use std::path::Path;
use std::sync::Arc;

use crate::apikeys::{ApiKeys, Plans};
use crate::config::{Config, ConfigError};
use crate::plugin::PluginRuntime;
use crate::ratelimit;
use crate::routing::{Route, Router};
use crate::state::ProcessState;
use crate::upstream::Upstream;

/// Why a gateway could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The configuration is wrong. Transparent, so `{:#}` prints the
    /// message once rather than again as its own cause.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The plugin runtime could not start.
    #[error("cannot start the plugin runtime: {0:#}")]
    Runtime(wasmtime::Error),
}

/// Everything a request needs.
pub struct Gateway {
    /// The routes.
    pub router: Router,
    /// Largest request body accepted.
    pub max_request_body_bytes: u64,
    /// The most time from a request's head to its response head.
    pub request_timeout: std::time::Duration,
    /// TLS settings of the listener, if it serves HTTPS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The listener's certificates, for reloading.
    pub certificates: Option<Arc<crate::tls::CertificateStore>>,
    /// `Strict-Transport-Security`, sent on HTTPS responses.
    pub hsts: Option<http::HeaderValue>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Keeps the engine and the plugins alive while routes use them.
    pub runtime: PluginRuntime,
    /// The usage plans of API-key consumers.
    pub plans: Arc<Plans>,
    /// The rate-limit policies, kept across reloads while unchanged.
    pub policies: ratelimit::RateLimitPolicies,
    /// The checked configuration this gateway was built from.
    pub config: Arc<Config>,
    /// Threat detection, when `[threats]` is configured.
    pub threats: Option<Arc<crate::threats::Threats>>,
    /// Evicts idle rate-limit keys; stopped when the gateway is dropped.
    sweeper: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(sweeper) = self.sweeper.take() {
            sweeper.abort();
        }
    }
}

impl Gateway {
    /// Every instance pool in service once, with the first route that uses
    /// it, in route order (routes with the same plugin and settings share
    /// a pool).
    pub fn pools(&self) -> Vec<(&Arc<str>, &Arc<crate::plugin::pool::InstancePool>)> {
        let mut pools: Vec<(&Arc<str>, &Arc<crate::plugin::pool::InstancePool>)> = Vec::new();
        for route in self.router.routes() {
            for link in route.chain.links() {
                if !pools.iter().any(|(_, seen)| Arc::ptr_eq(seen, &link.pool)) {
                    pools.push((&route.id, &link.pool));
                }
            }
        }
        pools
    }

    /// Load plugins, configure their instances and compile the routes of
    /// `config` (read from `file`, named in errors).
    pub async fn build(config: &Config, file: &Path) -> Result<Self, BuildError> {
        Self::build_with(config, file, &ProcessState::default()).await
    }

    /// As [`Gateway::build`], with what the process opened once: the API
    /// key store (only one process may hold its file) and the shared state.
    pub async fn build_with(
        config: &Config,
        file: &Path,
        process: &ProcessState,
    ) -> Result<Self, BuildError> {
        Self::build_after(config, file, process, None).await
    }

    /// As [`Gateway::build_with`], replacing `previous`: its rate-limit
    /// counts (for unchanged policies) and plugin key-value state carry
    /// over.
    pub async fn build_after(
        config: &Config,
        file: &Path,
        process: &ProcessState,
        previous: Option<&Gateway>,
    ) -> Result<Self, BuildError> {
        let policies = ratelimit::build_policies_after(
            config,
            previous.map(|p| &p.policies),
            process.shared.as_ref(),
        );
        let key_store = process.key_store.clone();
        let plans = Arc::new(
            Plans::new_shared(&config.usage_plans, process.shared.as_ref()).map_err(
                |(name, reason)| ConfigError::new(file, format!("usage_plans.{name}"), reason),
            )?,
        );
        let api_keys = key_store.map(|store| ApiKeys {
            store,
            plans: plans.clone(),
        });
        let mut runtime = PluginRuntime::after(
            config,
            policies.clone(),
            api_keys,
            previous.map(|p| &p.runtime),
        )
        .map_err(BuildError::Runtime)?;
        runtime.shared = process.shared.clone();
        let chains = runtime.load_chains(config, file).await?;
        let dir = file.parent().unwrap_or(Path::new("."));
        let mut routes = Vec::with_capacity(config.routes.len());
        for (i, (route, chain)) in config.routes.iter().zip(chains).enumerate() {
            let limits = ratelimit::route_limits(&route.rate_limits, &policies);
            let upstream = Upstream::new(&route.upstream, dir).map_err(|reason| {
                let (key, reason) = match reason.split_once(": ") {
                    Some((key, rest)) if key.starts_with("tls") => {
                        (format!("routes[{i}].upstream.{key}"), rest.to_string())
                    }
                    _ => (format!("routes[{i}].upstream"), reason),
                };
                ConfigError::new(file, key, reason)
            })?;
            let upload_key = |name: &str| {
                crate::uploads::UploadKey::new(
                    config
                        .upload_keys
                        .get(name)
                        .map_or(&b""[..], |k| k.as_bytes()),
                )
            };
            let upstream = match &route.upload_signer {
                Some(signer) => Upstream::UploadSigner(Box::new(
                    crate::uploads::UploadSigner::new(upload_key(&signer.key), signer),
                )),
                None => upstream,
            };
            let mut compiled = Route::new(route, upstream, chain, limits).map_err(|e| {
                ConfigError::new(
                    file,
                    format!("routes[{i}].path.regex"),
                    format!("invalid regular expression: {e}"),
                )
            })?;
            if let Some(geo) = config.geo.as_ref().and_then(|g| g.loaded.clone())
                && !route.regions.is_empty()
            {
                let regions =
                    crate::upstream::Regions::new(route, geo, dir).map_err(|(key, reason)| {
                        ConfigError::new(file, format!("routes[{i}].{key}"), reason)
                    })?;
                compiled.regions = Some(regions);
            }
            compiled.signed_uploads = route.signed_uploads.as_ref().map(|uploads| {
                crate::uploads::SignedUploads::new(upload_key(&uploads.key), uploads.required)
            });
            routes.push(compiled);
        }
        let (tls, certificates) = match &config.server.tls {
            Some(settings) => {
                let (tls, store) =
                    crate::tls::server_config(settings, dir).map_err(|e| match &e {
                        crate::tls::TlsError::File { key, .. } => {
                            ConfigError::new(file, format!("server.tls.{key}"), e.to_string())
                        }
                        crate::tls::TlsError::Rustls(_) => {
                            ConfigError::new(file, "server.tls", e.to_string())
                        }
                    })?;
                (Some(tls), Some(store))
            }
            None => (None, None),
        };
        let hsts = config
            .server
            .tls
            .as_ref()
            .and_then(|t| crate::tls::hsts_value(&t.hsts));
        let sweeper = (!policies.is_empty()).then(|| {
            tokio::spawn(ratelimit::sweep_forever(
                policies.values().cloned().collect(),
            ))
        });
        Ok(Self {
            router: Router::new(routes),
            tls,
            certificates,
            hsts,
            max_request_body_bytes: config.server.max_request_body_bytes,
            request_timeout: std::time::Duration::from_millis(config.server.request_timeout_ms),
            trusted_proxies: config
                .server
                .trusted_proxies
                .iter()
                .filter_map(|p| crate::forwarding::parse_network(p))
                .collect(),
            runtime,
            plans,
            policies,
            config: Arc::new(config.clone()),
            threats: match &config.threats {
                Some(settings) => Some(Arc::new(
                    crate::threats::Threats::new(settings)
                        .map_err(|reason| ConfigError::new(file, "threats", reason))?,
                )),
                None => None,
            },
            sweeper,
        })
    }
}
