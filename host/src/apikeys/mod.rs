//! API keys: issued and revoked through the admin API ([`crate::admin`]),
//! stored as hashes in a redb file ([`store`]), checked for plugins through
//! the `api-keys` capability against their consumer's usage plan
//! ([`plans`]).

pub mod format;
pub mod plans;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

pub use plans::{Limit, Plans, Usage};
pub use store::{KeyRecord, KeyStore, StoreError};

/// A key that passed.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The key's record.
    pub record: KeyRecord,
    /// What its plan has left.
    pub usage: Usage,
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown, revoked, or not a key at all.
    Invalid,
    /// Over its plan.
    Limited(Limit),
}

/// The keys and the plans they are checked against.
#[derive(Clone)]
pub struct ApiKeys {
    /// The key store, opened once per process.
    pub store: Arc<KeyStore>,
    /// The plans of the running config.
    pub plans: Arc<Plans>,
}

impl ApiKeys {
    /// Check `key` and count one request on its plan.
    pub async fn check(&self, key: &str) -> Result<Grant, Refusal> {
        let record = self.store.verify(key).ok_or(Refusal::Invalid)?;
        let usage = match &record.plan {
            None => Usage {
                rate_remaining: None,
                quota_remaining: None,
            },
            Some(plan) => match self.plans.check(plan, &record.consumer).await {
                Some(Ok(usage)) => usage,
                Some(Err(limit)) => return Err(Refusal::Limited(limit)),
                None => {
                    // The plan was removed from the config: fail closed.
                    tracing::warn!(key_id = %record.id, plan, "API key on an unknown plan refused");
                    return Err(Refusal::Invalid);
                }
            },
        };
        Ok(Grant { record, usage })
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Milliseconds of `duration`, rounded up so a client never retries early.
pub fn millis_up(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros().div_ceil(1000)).unwrap_or(u64::MAX)
}
