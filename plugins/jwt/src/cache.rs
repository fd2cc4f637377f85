//! Verified tokens, remembered until they expire so a repeated token costs
//! a hash and a comparison, not a signature check. Keyed by the token
//! itself under std's SipHash (a keyed hash with a per-instance random
//! key, so crafted tokens cannot flood one bucket); an entry is used only
//! if the whole token is equal, so there is no collision to exploit. A
//! cryptographic digest here cost 2 µs per request in Wasm. Bounded in size.

use std::collections::HashMap;
use std::sync::Arc;

/// A bounded map from token to what the token was found to grant.
pub struct TokenCache<T> {
    capacity: usize,
    entries: HashMap<Box<str>, (u64, Arc<T>)>,
}

impl<T> TokenCache<T> {
    /// At most `capacity` tokens (0: remember nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::new(),
        }
    }

    /// The remembered outcome for `token`, if it has not expired by `now`.
    pub fn get(&mut self, token: &str, now: u64) -> Option<Arc<T>> {
        match self.entries.get(token) {
            Some((expires, value)) if now < *expires => Some(value.clone()),
            Some(_) => {
                self.entries.remove(token);
                None
            }
            None => None,
        }
    }

    /// Remember `value` for `token` until `expires` (Unix seconds).
    pub fn insert(&mut self, token: &str, expires: u64, value: Arc<T>, now: u64) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity {
            self.entries.retain(|_, (expires, _)| now < *expires);
        }
        if self.entries.len() >= self.capacity {
            // Still full of live tokens: start over rather than track
            // recency on every hit.
            self.entries.clear();
        }
        self.entries.insert(token.into(), (expires, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_size_stays_bounded() {
        let mut cache = TokenCache::new(2);
        cache.insert("a", 100, Arc::new(1), 0);
        assert_eq!(cache.get("a", 99).as_deref(), Some(&1));
        assert_eq!(cache.get("a", 100), None);
        for (i, token) in ["b", "c", "d"].iter().enumerate() {
            cache.insert(token, 1000, Arc::new(i), 0);
        }
        assert!(cache.entries.len() <= 2);
        assert_eq!(cache.get("d", 1).as_deref(), Some(&2));
        assert_eq!(cache.get("d-and-more", 1), None, "only the exact token");
    }
}
