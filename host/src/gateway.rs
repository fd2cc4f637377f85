//! A running configuration: compiled routes with their upstreams and plugin
//! chains, and the plugin runtime that backs them.

use std::path::Path;

use crate::config::{Config, ConfigError};
use crate::plugin::PluginRuntime;
use crate::routing::{Route, Router};
use crate::upstream::Upstream;

/// Why a gateway could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The configuration is wrong.
    #[error("{0}")]
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
    /// Keeps the engine and the plugins alive while routes use them.
    pub runtime: PluginRuntime,
}

impl Gateway {
    /// Load plugins, configure their instances and compile the routes of
    /// `config` (read from `file`, named in errors).
    pub async fn build(config: &Config, file: &Path) -> Result<Self, BuildError> {
        let runtime = PluginRuntime::new(config).map_err(BuildError::Runtime)?;
        let chains = runtime.load_chains(config, file).await?;
        let mut routes = Vec::with_capacity(config.routes.len());
        for (i, (route, chain)) in config.routes.iter().zip(chains).enumerate() {
            let compiled =
                Route::new(route, Upstream::new(&route.upstream), chain).map_err(|e| {
                    ConfigError::new(
                        file,
                        format!("routes[{i}].path.regex"),
                        format!("invalid regular expression: {e}"),
                    )
                })?;
            routes.push(compiled);
        }
        Ok(Self {
            router: Router::new(routes),
            max_request_body_bytes: config.server.max_request_body_bytes,
            runtime,
        })
    }
}
