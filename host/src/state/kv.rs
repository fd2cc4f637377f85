//! A plugin's key-value store shared by every instance (`kv_scope =
//! "shared"`): its keys live in Redis under the plugin's own prefix, with
//! the expiry the plugin asks for. Redis's `maxmemory` policy bounds the
//! total; each value is bounded here.

use std::sync::Arc;
use std::time::Duration;

use super::{SharedState, StateError};

/// The largest value a plugin may store in the shared store.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// One plugin's namespace in Redis.
pub struct SharedKv {
    state: Arc<SharedState>,
    prefix: String,
}

impl SharedKv {
    /// The namespace of plugin `plugin`.
    pub fn new(state: Arc<SharedState>, plugin: &str) -> Self {
        Self {
            prefix: state.key(&format!("kv:{plugin}:")),
            state,
        }
    }

    /// The value under `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let mut command = redis::cmd("GET");
        command.arg(self.key(key));
        self.run(command).await
    }

    /// Store `value` under `key`, expiring after `ttl` if given.
    pub async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), StateError> {
        let mut command = redis::cmd("SET");
        command.arg(self.key(key)).arg(value);
        if let Some(ttl) = ttl {
            command
                .arg("PX")
                .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1));
        }
        self.run(command).await
    }

    /// Remove `key`; whether it was there.
    pub async fn delete(&self, key: &str) -> Result<bool, StateError> {
        let mut command = redis::cmd("DEL");
        command.arg(self.key(key));
        let removed: u64 = self.run(command).await?;
        Ok(removed > 0)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn run<T: redis::FromRedisValue>(&self, command: redis::Cmd) -> Result<T, StateError> {
        self.state
            .call("kv", |mut connection| async move {
                command.query_async::<T>(&mut connection).await
            })
            .await
    }
}
