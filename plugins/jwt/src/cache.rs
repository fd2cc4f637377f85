//! Verified tokens, remembered until they expire so a repeated token costs
//! a hash and a comparison, not a signature check.
//!
//! Entries are keyed by the token's std SipHash (a keyed hash with a
//! per-instance random key, so crafted tokens cannot be aimed at one
//! entry) and used only if the whole token is equal, so a collision costs
//! at most a remembered token, never a wrong answer. A cryptographic digest
//! here cost 2 µs per request in Wasm. Bounded in size.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::Arc;

/// A bounded map from token to what the token was found to grant.
pub struct TokenCache<T> {
    capacity: usize,
    hashes: RandomState,
    entries: HashMap<u64, Entry<T>, BuildHasherDefault<AlreadyHashed>>,
}

struct Entry<T> {
    token: Box<str>,
    expires: u64,
    value: Arc<T>,
}

impl<T> TokenCache<T> {
    /// At most `capacity` tokens (0: remember nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            hashes: RandomState::new(),
            entries: HashMap::default(),
        }
    }

    /// The remembered outcome for `token`, if it has not expired by `now`,
    /// and when it expires.
    pub fn get(&mut self, token: &str, now: u64) -> Option<(Arc<T>, u64)> {
        let hash = self.hashes.hash_one(token);
        let entry = self.entries.get(&hash)?;
        if !same_bytes(entry.token.as_bytes(), token.as_bytes()) {
            return None;
        }
        if now < entry.expires {
            return Some((entry.value.clone(), entry.expires));
        }
        self.entries.remove(&hash);
        None
    }

    /// Remember `value` for `token` until `expires` (Unix seconds). A token
    /// whose hash another holds takes its place.
    pub fn insert(&mut self, token: &str, expires: u64, value: Arc<T>, now: u64) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity {
            self.entries.retain(|_, entry| now < entry.expires);
        }
        if self.entries.len() >= self.capacity {
            // Still full of live tokens: start over rather than track
            // recency on every hit.
            self.entries.clear();
        }
        let entry = Entry {
            token: token.into(),
            expires,
            value,
        };
        self.entries.insert(self.hashes.hash_one(token), entry);
    }
}

/// Whether `a` and `b` hold the same bytes, compared a machine word at a
/// time: a Wasm libc's `memcmp` goes a byte at a time, which on a
/// 200-byte token cost more than all the rest of a cache hit. It reads
/// every word whatever it finds, which also keeps the time a comparison
/// takes from telling how much of a guess was right.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a_words, a_rest) = a.as_chunks::<8>();
    let (b_words, b_rest) = b.as_chunks::<8>();
    let mut differ = 0u64;
    for (x, y) in a_words.iter().zip(b_words) {
        differ |= u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y);
    }
    for (x, y) in a_rest.iter().zip(b_rest) {
        differ |= u64::from(x ^ y);
    }
    differ == 0
}

/// The map's own hasher passes on the keyed hash it is given: hashing it
/// again would only cost time.
#[derive(Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the key is a `u64`); fold anything else.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_size_stays_bounded() {
        let mut cache = TokenCache::new(2);
        cache.insert("a", 100, Arc::new(1), 0);
        assert_eq!(cache.get("a", 99).map(|(v, e)| (*v, e)), Some((1, 100)));
        assert!(cache.get("a", 100).is_none());
        for (i, token) in ["b", "c", "d"].iter().enumerate() {
            cache.insert(token, 1000, Arc::new(i), 0);
        }
        assert!(cache.entries.len() <= 2);
        assert_eq!(cache.get("d", 1).map(|(v, _)| *v), Some(2));
        assert!(cache.get("d-and-more", 1).is_none(), "only the exact token");
    }

    #[test]
    fn tokens_are_the_same_only_when_every_byte_is() {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";
        assert!(same_bytes(token.as_bytes(), token.as_bytes()));
        for at in 0..token.len() {
            let mut other = token.as_bytes().to_vec();
            other[at] ^= 1;
            assert!(!same_bytes(token.as_bytes(), &other), "byte {at}");
        }
        assert!(!same_bytes(b"abc", b"abcd"));
        assert!(same_bytes(b"", b""));
    }

    #[test]
    fn a_token_with_the_same_hash_is_not_taken_for_another() {
        let mut cache = TokenCache::new(4);
        cache.insert("first", 100, Arc::new(1), 0);
        // Forge a collision: put "second" where "first" hashes.
        let hash = cache.hashes.hash_one("first");
        let entry = Entry {
            token: "second".into(),
            expires: 100,
            value: Arc::new(2),
        };
        cache.entries.insert(hash, entry);
        assert!(cache.get("first", 1).is_none());
    }
}
