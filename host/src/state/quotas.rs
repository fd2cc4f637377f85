//! Usage-plan quotas shared by every instance: one counter per consumer,
//! plan and period in Redis (`quota.lua`, atomic), expiring when the
//! period ends. Exact: each counted request is one round trip, and a
//! consumer found over its quota is refused here until the period ends
//! without asking again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{SharedState, StateError};

/// Consumers remembered as over their quota, at most.
const MAX_REFUSED: usize = 100_000;

/// One plan's shared quota.
pub struct SharedQuota {
    state: Arc<SharedState>,
    script: redis::Script,
    key_prefix: String,
    /// consumer → end of the period it is over quota in (Unix seconds).
    refused: Mutex<HashMap<String, u64>>,
}

impl SharedQuota {
    /// The shared quota of plan `name`.
    pub fn new(state: Arc<SharedState>, name: &str) -> Self {
        Self {
            key_prefix: state.key(&format!("quota:{name}:")),
            script: redis::Script::new(include_str!("quota.lua")),
            refused: Mutex::new(HashMap::new()),
            state,
        }
    }

    /// Count one request of `consumer` in the period [`start`, `end`) at
    /// `now`: what is left, or `None` when the quota is used up.
    pub async fn count(
        &self,
        consumer: &str,
        limit: u64,
        (start, end): (u64, u64),
        now: u64,
    ) -> Result<Option<u64>, StateError> {
        {
            let mut refused = self.lock();
            match refused.get(consumer) {
                Some(until) if now < *until => return Ok(None),
                Some(_) => {
                    refused.remove(consumer);
                }
                None => {}
            }
        }
        let key = format!("{}{start}:{consumer}", self.key_prefix);
        let mut call = self.script.key(&key);
        call.arg(limit).arg(end);
        let left = self
            .state
            .call("rate_limits", |mut connection| async move {
                call.invoke_async::<i64>(&mut connection).await
            })
            .await?;
        match u64::try_from(left) {
            Ok(left) => Ok(Some(left)),
            Err(_) => {
                let mut refused = self.lock();
                if refused.len() >= MAX_REFUSED {
                    refused.retain(|_, until| now < *until);
                }
                if refused.len() < MAX_REFUSED {
                    refused.insert(consumer.to_string(), end);
                }
                Ok(None)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        // Single inserts and removes: a poisoned map is consistent.
        self.refused.lock().unwrap_or_else(|e| e.into_inner())
    }
}
