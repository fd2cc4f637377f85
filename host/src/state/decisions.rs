//! Authorizer decisions shared by every instance: stored in Redis under
//! the authorizer's namespace and the same digest keys as the local cache
//! (credentials never in clear), with the local cache's TTL. A local miss
//! asks Redis before calling the authorizer; a new decision is stored
//! without the request waiting. Redis failing is a miss: the authorizer
//! is called, as without sharing.

use std::sync::Arc;
use std::time::Duration;

use super::{SharedState, StateError};

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
        let mut connection = self.state.connection();
        let mut command = redis::cmd("GET");
        command.arg(self.key(key));
        let answer = tokio::time::timeout(
            self.state.timeout(),
            command.query_async::<Option<Vec<u8>>>(&mut connection),
        )
        .await
        .map_err(|_| StateError::Unavailable("timed out".into()))
        .and_then(|r| r.map_err(StateError::from));
        self.state.record("authorizer_cache", answer).ok().flatten()
    }

    /// Store `value` under each of `keys` for `ttl`, on a task of its own.
    pub fn put(self: &Arc<Self>, entries: Vec<([u8; 32], Vec<u8>)>, ttl: Duration) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if ttl.is_zero() {
            return;
        }
        let shared = self.clone();
        runtime.spawn(async move {
            let mut connection = shared.state.connection();
            let mut pipe = redis::pipe();
            let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
            for (key, value) in entries {
                pipe.pset_ex(shared.key(&key), value, millis).ignore();
            }
            let stored = tokio::time::timeout(
                shared.state.timeout(),
                pipe.query_async::<()>(&mut connection),
            )
            .await
            .map_err(|_| StateError::Unavailable("timed out".into()))
            .and_then(|r| r.map_err(StateError::from));
            let _ = shared.state.record("authorizer_cache", stored);
        });
    }

    fn key(&self, key: &[u8; 32]) -> String {
        format!("{}{}", self.prefix, hex::encode(key))
    }
}
