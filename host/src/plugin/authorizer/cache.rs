//! A bounded map of authorizer decisions with expiry. Keys are SHA-256
//! digests of identity sources, so credentials are never held in clear.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A cache key: a digest of identity sources (and method and path, for a
/// resource-specific decision).
pub type Key = [u8; 32];

/// What is remembered under a key.
#[derive(Clone)]
pub enum Cached<T> {
    /// The decision.
    Decision(T),
    /// The authorizer said its decisions for this identity depend on the
    /// method and path: look under the resource key.
    PerResource,
}

struct Entry<T> {
    value: Cached<T>,
    expires: Instant,
}

/// One cache: allows and denials each get one, so a flood of bad
/// credentials cannot push out good decisions.
pub struct DecisionCache<T> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<Key, Entry<T>>>,
}

impl<T: Clone> DecisionCache<T> {
    /// A cache keeping entries for `ttl` (zero: keeps nothing).
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// How long entries are kept.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The live entry under `key`.
    pub fn get(&self, key: &Key, now: Instant) -> Option<Cached<T>> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some(entry) if entry.expires > now => Some(entry.value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Remember `value` under `key` for this cache's TTL. When full, expired
    /// entries go first; if none has expired the value is not cached.
    pub fn insert(&self, key: Key, value: Cached<T>, now: Instant) {
        if self.ttl.is_zero() || self.max_entries == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            entries.retain(|_, entry| entry.expires > now);
            if entries.len() >= self.max_entries {
                return;
            }
        }
        let expires = now + self.ttl;
        entries.insert(key, Entry { value, expires });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry<T>>> {
        // Each mutation is one insert or remove: a poisoned map is consistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_a_full_cache_makes_room_only_from_expired_ones() {
        let cache = DecisionCache::new(Duration::from_secs(10), 2);
        let start = Instant::now();
        cache.insert([1; 32], Cached::Decision(1), start);
        cache.insert([2; 32], Cached::Decision(2), start + Duration::from_secs(5));
        cache.insert([3; 32], Cached::Decision(3), start + Duration::from_secs(6));
        assert!(cache.get(&[3; 32], start).is_none(), "full: not cached");
        let later = start + Duration::from_secs(11);
        assert!(cache.get(&[1; 32], later).is_none(), "expired");
        cache.insert([3; 32], Cached::Decision(3), later);
        assert!(matches!(
            cache.get(&[3; 32], later),
            Some(Cached::Decision(3))
        ));
        assert!(matches!(
            cache.get(&[2; 32], later),
            Some(Cached::Decision(2))
        ));
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = DecisionCache::new(Duration::ZERO, 10);
        let now = Instant::now();
        cache.insert([1; 32], Cached::Decision(1), now);
        assert!(cache.get(&[1; 32], now).is_none());
    }
}
