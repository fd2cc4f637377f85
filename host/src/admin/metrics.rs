//! `GET /metrics`: the Prometheus text format, with the gauges that are
//! read rather than counted (plugin instances, breakers, dropped log
//! lines) taken from the configuration in service at scrape time.

use super::server::Admin;
use crate::plugin::breaker::BreakerState;
use crate::telemetry;

/// The metrics, as text.
pub fn scrape(admin: &Admin) -> String {
    let telemetry = telemetry::get();
    let metrics = &telemetry.metrics;
    let gateway = admin.live.current();
    let mut instances = std::collections::BTreeMap::<String, i64>::new();
    let mut breakers = std::collections::BTreeMap::<String, i64>::new();
    for (_, pool) in gateway.pools() {
        let name = pool.definition.name.to_string();
        *instances.entry(name.clone()).or_default() +=
            i64::try_from(pool.live()).unwrap_or(i64::MAX);
        let open = pool.definition.breaker.state() != BreakerState::Closed;
        breakers.insert(name, i64::from(open));
    }
    for (plugin, count) in instances {
        metrics
            .plugin_instances
            .get_or_create(&vec![("plugin", plugin)])
            .set(count);
    }
    for (plugin, open) in breakers {
        metrics
            .plugin_breaker_open
            .get_or_create(&vec![("plugin", plugin)])
            .set(open);
    }
    if let Some(threats) = &gateway.threats {
        let mut by_kind = std::collections::BTreeMap::<String, i64>::new();
        for (key, _) in threats.blocks().list() {
            let kind = key.split(':').next().unwrap_or("other").to_string();
            *by_kind.entry(kind).or_default() += 1;
        }
        for kind in ["ip", "account", "consumer"] {
            metrics
                .blocked
                .get_or_create(&vec![("kind", kind.to_string())])
                .set(by_kind.get(kind).copied().unwrap_or(0));
        }
    }
    telemetry.refresh_log_gauges();
    metrics.encode()
}
