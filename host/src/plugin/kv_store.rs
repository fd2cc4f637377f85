//! The embedded key-value store behind the `kv` capability: in memory,
//! with expiry, one namespace per plugin and a quota per namespace so one
//! plugin cannot exhaust the gateway's memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most keys one plugin may store.
const MAX_KEYS_PER_NAMESPACE: usize = 100_000;
/// Most value bytes one plugin may store.
const MAX_BYTES_PER_NAMESPACE: usize = 64 * 1024 * 1024;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The namespace's quota is used up.
    #[error("key-value quota exceeded")]
    QuotaExceeded,
}

#[derive(Default)]
struct Namespace {
    entries: HashMap<String, Entry>,
    bytes: usize,
}

struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

/// All namespaces of one gateway.
#[derive(Default)]
pub struct KvStore {
    namespaces: Mutex<HashMap<String, Arc<Mutex<Namespace>>>>,
}

/// One plugin's view of the store.
#[derive(Clone)]
pub struct KvNamespace(Arc<Mutex<Namespace>>);

impl KvStore {
    /// The namespace of `plugin`, created on first use.
    pub fn namespace(&self, plugin: &str) -> KvNamespace {
        let mut namespaces = self.namespaces.lock().unwrap_or_else(|e| e.into_inner());
        KvNamespace(namespaces.entry(plugin.to_string()).or_default().clone())
    }
}

impl KvNamespace {
    fn lock(&self) -> std::sync::MutexGuard<'_, Namespace> {
        // A panic while holding the lock leaves the map consistent (every
        // mutation is a single insert/remove), so a poisoned lock is usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live value under `key`.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let now = Instant::now();
        let mut ns = self.lock();
        match ns.entries.get(key) {
            Some(entry) if entry.live(now) => Some(entry.value.clone()),
            Some(_) => {
                ns.remove(key);
                None
            }
            None => None,
        }
    }

    /// Store `value` under `key`, expiring after `ttl` (never if `None`).
    pub fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvError> {
        let now = Instant::now();
        let mut ns = self.lock();
        ns.remove(key);
        if ns.entries.len() >= MAX_KEYS_PER_NAMESPACE
            || ns.bytes + value.len() + key.len() > MAX_BYTES_PER_NAMESPACE
        {
            ns.purge_expired(now);
            if ns.entries.len() >= MAX_KEYS_PER_NAMESPACE
                || ns.bytes + value.len() + key.len() > MAX_BYTES_PER_NAMESPACE
            {
                return Err(KvError::QuotaExceeded);
            }
        }
        ns.bytes += value.len() + key.len();
        let expires = ttl.map(|ttl| now + ttl);
        ns.entries.insert(
            key.to_string(),
            Entry {
                value: value.to_vec(),
                expires,
            },
        );
        Ok(())
    }

    /// Remove `key`; true if a live value was there.
    pub fn delete(&self, key: &str) -> bool {
        let now = Instant::now();
        self.lock().remove(key).is_some_and(|entry| entry.live(now))
    }
}

impl Namespace {
    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.bytes -= entry.value.len() + key.len();
        Some(entry)
    }

    fn purge_expired(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| !e.live(now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in expired {
            self.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_separate() {
        let store = KvStore::default();
        store.namespace("a").set("k", b"1", None).expect("set");
        assert_eq!(store.namespace("a").get("k"), Some(b"1".to_vec()));
        assert_eq!(store.namespace("b").get("k"), None);
    }

    #[test]
    fn values_expire() {
        let ns = KvStore::default().namespace("a");
        ns.set("k", b"1", Some(Duration::from_millis(0)))
            .expect("set");
        assert_eq!(ns.get("k"), None);
        assert!(!ns.delete("k"));
    }

    #[test]
    fn byte_quota_is_enforced() {
        let ns = KvStore::default().namespace("a");
        let big = vec![0u8; MAX_BYTES_PER_NAMESPACE / 2];
        ns.set("a", &big, None).expect("first half fits");
        assert_eq!(ns.set("b", &big, None), Err(KvError::QuotaExceeded));
        ns.set("a", &big, None)
            .expect("replacing a value frees its bytes first");
    }
}
