//! Whether the instances the plugin pools keep ready fit in
//! `runtime.max_instances`. Each pool (one per plugin and settings) starts
//! one instance while the configuration loads and fills up to
//! `pool.prewarm` in the background; past the cap an instance cannot be
//! created, so a configuration over it would fail to load or not, by how
//! far the background filling got while the next pool started.

use std::collections::HashSet;
use std::path::Path;

use crate::config::{Config, ConfigError};

/// Refuse `config` if its pools keep more instances ready than
/// `runtime.max_instances` allows.
pub fn check(config: &Config, file: &Path) -> Result<(), ConfigError> {
    let mut pools = HashSet::new();
    let mut ready: u64 = 0;
    for route in &config.routes {
        for entry in &route.plugins {
            // An unknown plugin or unwritable settings are reported where
            // the chains are built.
            let Some(plugin) = config.plugins.get(entry.name.as_str()) else {
                continue;
            };
            let Ok(settings_json) = entry.settings_json(plugin) else {
                continue;
            };
            if pools.insert((entry.name.as_str(), settings_json)) {
                ready += u64::from(plugin.pool.prewarm.max(1));
            }
        }
    }
    let cap = config.runtime.max_instances;
    if ready > u64::from(cap) {
        return Err(ConfigError::new(
            file,
            "runtime.max_instances",
            format!(
                "{cap} cannot hold the {ready} instances that the routes' {} plugin pools \
                 keep ready (a pool per plugin and settings, each keeping its \
                 pool.prewarm, at least 1): raise runtime.max_instances or lower pool.prewarm",
                pools.len()
            ),
        ));
    }
    Ok(())
}
