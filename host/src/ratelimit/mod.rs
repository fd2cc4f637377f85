//! Native rate limiting (governor's GCRA), before any plugin runs.
//!
//! A policy limits `requests` per `per_seconds` with a `burst`, keyed by
//! the client, a header, the route, or the authenticated consumer. A
//! rejected request gets 429 with `Retry-After` and the IETF draft
//! `RateLimit-Policy` / `RateLimit` fields; allowed requests get the fields
//! of their tightest policy.

mod key;
mod policy;

pub use key::KeySource;
pub use policy::{Allowance, Policy, Refused, Rejection, sweep_forever};

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::Config;
use crate::state::SharedState;

/// Every policy of the config, by name.
pub type RateLimitPolicies = Arc<HashMap<String, Arc<Policy>>>;

/// The policies of one route, split by when they can be checked.
#[derive(Clone, Default)]
pub struct RouteLimits {
    /// Checked before any plugin: keyed by client, header or route.
    pub before_plugins: Vec<Arc<Policy>>,
    /// Checked after the request-headers phase: keyed by consumer.
    pub after_authentication: Vec<Arc<Policy>>,
}

impl RouteLimits {
    /// Whether the route has no limits.
    pub fn is_empty(&self) -> bool {
        self.before_plugins.is_empty() && self.after_authentication.is_empty()
    }
}

/// Build every policy of a validated config (once; routes share them).
pub fn build_policies(config: &Config) -> RateLimitPolicies {
    build_policies_after(config, None, None)
}

/// As [`build_policies`], keeping each policy of `previous` (a config
/// being replaced) whose settings did not change, so a reload does not
/// hand every client a fresh allowance; counted in `shared` when given.
pub fn build_policies_after(
    config: &Config,
    previous: Option<&RateLimitPolicies>,
    shared: Option<&Arc<SharedState>>,
) -> RateLimitPolicies {
    let policies = config
        .rate_limits
        .iter()
        .filter_map(|(name, limit)| {
            let kept = previous
                .and_then(|p| p.get(name))
                .filter(|p| p.settings == *limit)
                .cloned();
            kept.or_else(|| {
                let counter = format!("policy:{name}");
                Policy::new_shared(name, limit, shared.map(|s| (s, counter.as_str()))).map(Arc::new)
            })
            .map(|p| (name.clone(), p))
        })
        .collect();
    Arc::new(policies)
}

/// The limits of a route, from its `rate_limits` names.
pub fn route_limits(names: &[String], policies: &HashMap<String, Arc<Policy>>) -> RouteLimits {
    let mut limits = RouteLimits::default();
    for policy in names.iter().filter_map(|name| policies.get(name)) {
        if policy.key == KeySource::Consumer {
            limits.after_authentication.push(policy.clone());
        } else {
            limits.before_plugins.push(policy.clone());
        }
    }
    limits
}
