//! A transaction's [`TransformCache`], handed on to the next transaction
//! on the thread when this one ends.
//!
//! A cache grows its maps and arena over a request (a few hundred entries
//! and group sets); started empty every time, that growth reallocated and
//! copied them again for every request. Cleared and kept, the next
//! transaction finds the room already there.

use std::cell::RefCell;
use std::ops::Deref;

use crate::cache::TransformCache;

thread_local! {
    /// The last finished transaction's cache, cleared.
    static SPARE: RefCell<Option<TransformCache>> = const { RefCell::new(None) };
}

/// A cache taken for one transaction and given back when dropped.
pub struct RecycledCache(TransformCache);

impl RecycledCache {
    /// The thread's spare cache, or a new one.
    pub fn take() -> Self {
        let spare = SPARE.with(|spare| spare.borrow_mut().take());
        Self(spare.unwrap_or_default())
    }
}

impl Deref for RecycledCache {
    type Target = TransformCache;

    fn deref(&self) -> &TransformCache {
        &self.0
    }
}

impl Drop for RecycledCache {
    fn drop(&mut self) {
        // An empty cache allocates nothing: swapping one in is free.
        let cache = std::mem::take(&mut self.0);
        if !cache.is_modest() {
            return;
        }
        cache.clear();
        // During thread teardown the slot may be gone: then it just drops.
        let _ = SPARE.try_with(|spare| *spare.borrow_mut() = Some(cache));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_transactions_cache_is_kept_for_the_next() {
        drop(RecycledCache::take());
        assert!(SPARE.with(|spare| spare.borrow().is_some()));
        let next = RecycledCache::take();
        assert!(SPARE.with(|spare| spare.borrow().is_none()));
        drop(next);
        assert!(SPARE.with(|spare| spare.borrow().is_some()));
    }
}
