//! Authorizer decisions shared by every instance: stored in Redis under
//! the authorizer's namespace and the same digest keys as the local cache
//! (credentials never in clear), with the local cache's TTL. A local miss
//! asks Redis before calling the authorizer; a new decision is stored
//! without the request waiting. Redis failing is a miss: the authorizer
//! is called, as without sharing.

use std::sync::Arc;
use std::time::Duration;

use super::SharedState;

/// One authorizer's (plugin and settings) shared decisions.
pub struct SharedDecisions {
    state: Arc<SharedState>,
    prefix: String,
}

impl SharedDecisions {
    /// Decisions under `namespace` (the plugin and a digest of its
    /// settings, so different settings never share).
    pub fn new(state: Arc<SharedState>, namespace: &str) -> Self {
        Self {
            prefix: state.key(&format!("authz:{namespace}:")),
            state,
        }
    }

    /// What is stored under `key`, if anything (a failure is a miss).
    pub async fn get(&self, key: &[u8; 32]) -> Option<Vec<u8>> {
        let mut command = redis::cmd("GET");
        command.arg(self.key(key));
        self.state
            .call("authorizer_cache", |mut connection| async move {
                command
                    .query_async::<Option<Vec<u8>>>(&mut connection)
                    .await
            })
            .await
            .ok()
            .flatten()
    }

    /// Store each value under its key for `ttl`, on a task of its own.
    pub fn put(&self, entries: Vec<([u8; 32], Vec<u8>)>, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let mut pipe = redis::pipe();
        for (key, value) in entries {
            pipe.pset_ex(self.key(&key), value, millis).ignore();
        }
        self.state.send_in_background("authorizer_cache", pipe);
    }

    fn key(&self, key: &[u8; 32]) -> String {
        format!("{}{}", self.prefix, hex::encode(key))
    }
}
