//! A transaction's [`TransformCache`], handed on to the next transaction
//! on the thread when this one ends.
//!
//! A cache grows its maps and arena over a request (a few hundred entries
//! and group sets); started empty every time, that growth reallocated and
//! copied them again for every request. Cleared and kept, the next
//! transaction finds the room already there.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::cache::TransformCache;

thread_local! {
    /// The last finished transaction's cache, cleared.
    static SPARE: RefCell<Option<TransformCache>> = const { RefCell::new(None) };
    /// Suspended transactions' caches, by ticket, oldest first.
    static PARKED: RefCell<VecDeque<(u64, TransformCache)>> = const { RefCell::new(VecDeque::new()) };
}

/// Most caches parked on a thread: a caller keeps a few suspended
/// transactions (the `waf` plugin, eight); older caches are dropped and
/// their transactions resume with an empty one.
const MOST_PARKED: usize = 8;

static NEXT_TICKET: AtomicU64 = AtomicU64::new(1);

/// A cache taken for one transaction and given back when dropped.
pub struct RecycledCache(TransformCache);

impl RecycledCache {
    /// The thread's spare cache, or a new one.
    pub fn take() -> Self {
        let spare = SPARE.with(|spare| spare.borrow_mut().take());
        Self(spare.unwrap_or_default())
    }

    /// Keeps the cache on this thread for its suspended transaction: what
    /// it learnt of each value still holds when the transaction resumes
    /// here (a caller that runs the request's phases in separate calls,
    /// the `waf` plugin's headers and body calls, would otherwise
    /// transform and scan every header again). None if it is too large to
    /// keep.
    pub fn park(mut self) -> Option<u64> {
        let cache = std::mem::take(&mut self.0);
        // What is left is empty and holds no memory: nothing to recycle.
        std::mem::forget(self);
        if !cache.is_modest() {
            return None;
        }
        let ticket = NEXT_TICKET.fetch_add(1, Ordering::Relaxed);
        PARKED
            .try_with(|parked| {
                let mut parked = parked.borrow_mut();
                if parked.len() == MOST_PARKED {
                    parked.pop_front();
                }
                parked.push_back((ticket, cache));
            })
            .ok()
            .map(|()| ticket)
    }

    /// The cache parked under `ticket` on this thread, or (parked on
    /// another thread, or dropped since) the thread's spare.
    pub fn unpark(ticket: u64) -> Self {
        let parked = PARKED
            .try_with(|parked| {
                let mut parked = parked.borrow_mut();
                let at = parked.iter().position(|(own, _)| *own == ticket)?;
                parked.remove(at).map(|(_, cache)| cache)
            })
            .ok()
            .flatten();
        match parked {
            Some(cache) => Self(cache),
            None => Self::take(),
        }
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

    #[test]
    fn a_parked_cache_is_found_by_its_ticket_on_its_thread_only() {
        let ticket = RecycledCache::take().park().expect("parked");
        let elsewhere = std::thread::spawn(move || {
            RecycledCache::unpark(ticket);
            PARKED.with(|parked| parked.borrow().len())
        });
        assert_eq!(elsewhere.join().expect("thread"), 0);
        assert!(PARKED.with(|parked| parked.borrow().iter().any(|(own, _)| *own == ticket)));
        drop(RecycledCache::unpark(ticket));
        assert!(!PARKED.with(|parked| parked.borrow().iter().any(|(own, _)| *own == ticket)));
    }

    #[test]
    fn only_the_latest_caches_stay_parked() {
        let tickets: Vec<u64> = (0..=MOST_PARKED)
            .map(|_| RecycledCache::take().park().expect("parked"))
            .collect();
        PARKED.with(|parked| {
            let parked = parked.borrow();
            assert_eq!(parked.len(), MOST_PARKED);
            assert!(!parked.iter().any(|(own, _)| *own == tickets[0]));
        });
    }
}
