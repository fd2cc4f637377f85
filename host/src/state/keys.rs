//! API keys shared by every instance: the records live in one Redis hash,
//! and every change is published on a channel. Each instance follows the
//! channel and keeps its in-memory index of live keys up to date, so a
//! revoke on one instance is refused by all within a round trip, and a
//! check never waits on Redis.
//!
//! The follower ([`super::follower`]) subscribes afresh and reloads the
//! whole hash every 10 s and after any error.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redis::Commands;

use super::follower::Follower;
use super::{SharedState, StateError};
use crate::apikeys::KeyRecord;

/// The Redis side of a shared key store.
pub struct SharedKeys {
    state: Arc<SharedState>,
    hash: String,
    channel: String,
    /// Whether the follower is subscribed and has loaded every key.
    synced: Arc<AtomicBool>,
}

impl SharedKeys {
    /// Keys under `[state] prefix` + `keys`.
    pub fn new(state: Arc<SharedState>) -> Self {
        Self {
            hash: state.key("keys"),
            channel: state.key("keys:changes"),
            state,
            synced: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether refusing every key is what an outage calls for now.
    pub fn refuse_all(&self) -> bool {
        self.state.api_keys_on_error == crate::config::ApiKeysOnError::Deny
            && !self.synced.load(Ordering::Relaxed)
    }

    fn recorded<T>(&self, result: Result<T, StateError>) -> Result<T, StateError> {
        self.state.record("api_keys", result)
    }

    /// One record.
    pub fn get(&self, id: &str) -> Result<Option<KeyRecord>, StateError> {
        let fetched = self.state.blocking_connection().and_then(|mut c| {
            let json: Option<String> = c.hget(&self.hash, id)?;
            Ok(json)
        });
        let json = self.recorded(fetched)?;
        json.map(|j| parse(&j)).transpose()
    }

    /// Every record.
    pub fn list(&self) -> Result<Vec<KeyRecord>, StateError> {
        let fetched = self.state.blocking_connection().and_then(|mut c| {
            let all: HashMap<String, String> = c.hgetall(&self.hash)?;
            Ok(all)
        });
        let all = self.recorded(fetched)?;
        // A record this version cannot read (another version's, or not
        // ours) is left out, not allowed to stop every other key.
        Ok(all
            .into_iter()
            .filter_map(|(id, json)| {
                parse(&json)
                    .inspect_err(|e| tracing::warn!(key_id = %id, "unreadable API key record: {e}"))
                    .ok()
            })
            .collect())
    }

    /// Store a new record; `false` if its id is taken.
    pub fn insert_new(&self, record: &KeyRecord) -> Result<bool, StateError> {
        let json = serde_json::to_string(record).map_err(unavailable)?;
        let stored = self.state.blocking_connection().and_then(|mut c| {
            let fresh: bool = c.hset_nx(&self.hash, &record.id, &json)?;
            if fresh {
                let _: i64 = c.publish(&self.channel, &record.id)?;
            }
            Ok(fresh)
        });
        self.recorded(stored)
    }

    /// Replace a record, and tell every instance, in one transaction: a
    /// change is never stored without being announced.
    pub fn put(&self, record: &KeyRecord) -> Result<(), StateError> {
        let json = serde_json::to_string(record).map_err(unavailable)?;
        let stored = self.state.blocking_connection().and_then(|mut c| {
            redis::pipe()
                .atomic()
                .hset(&self.hash, &record.id, &json)
                .ignore()
                .publish(&self.channel, &record.id)
                .ignore()
                .query::<()>(&mut c)?;
            Ok(())
        });
        self.recorded(stored)
    }

    /// Follow changes forever on a thread of its own: `apply` gets every
    /// record that changed, `reload` all of them after each subscribe
    /// (see [`super::follower`]).
    pub fn follow(
        self: Arc<Self>,
        apply: impl Fn(KeyRecord) + Send + 'static,
        reload: impl Fn(Vec<KeyRecord>) + Send + 'static,
    ) -> std::io::Result<()> {
        let (for_reload, for_apply) = (self.clone(), self.clone());
        Follower {
            state: self.state.clone(),
            feature: "api_keys",
            channel: self.channel.clone(),
            synced: self.synced.clone(),
            reload: move || {
                reload(for_reload.list()?);
                Ok(())
            },
            apply: move |id: String| {
                if let Some(record) = for_apply.get(&id)? {
                    apply(record);
                }
                Ok(())
            },
        }
        .spawn("portcullis-keys")
    }
}

fn parse(json: &str) -> Result<KeyRecord, StateError> {
    serde_json::from_str(json).map_err(unavailable)
}

fn unavailable(e: impl std::fmt::Display) -> StateError {
    StateError::Unavailable(e.to_string())
}
