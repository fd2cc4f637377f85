//! The temporary block list: keys (`ip:ADDR`, `account:NAME`,
//! `consumer:NAME`) refused until their block expires or an operator lifts
//! it. Checking costs one atomic load while the list is empty.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One block.
#[derive(Debug, Clone)]
pub struct Block {
    /// The detector that set it.
    pub detector: &'static str,
    /// What it saw.
    pub reason: String,
    /// When it ends.
    pub until: Instant,
}

/// Blocks held at most: past it, new detections alert but do not block
/// (a flood of invented account names cannot grow the list without end).
const MAX_BLOCKS: usize = 100_000;

/// The list.
#[derive(Default)]
pub struct BlockList {
    blocks: RwLock<HashMap<String, Block>>,
    entries: AtomicUsize,
    /// When expired blocks were last swept out.
    swept: std::sync::Mutex<Option<Instant>>,
}

impl BlockList {
    /// Whether nothing is blocked (one atomic load).
    pub fn is_empty(&self) -> bool {
        self.entries.load(Ordering::Relaxed) == 0
    }

    /// The time left on `key`'s block, if it is blocked now.
    pub fn blocked(&self, key: &str) -> Option<Duration> {
        if self.is_empty() {
            return None;
        }
        self.sweep_now_and_then();
        let now = Instant::now();
        let left = self
            .blocks
            .read()
            .ok()?
            .get(key)
            .map(|block| block.until.saturating_duration_since(now))?;
        (!left.is_zero()).then_some(left)
    }

    /// Remove expired blocks, at most once a second, so the empty-list
    /// fast path comes back once blocks have run out.
    fn sweep_now_and_then(&self) {
        let now = Instant::now();
        {
            let Ok(mut swept) = self.swept.try_lock() else {
                return;
            };
            if swept.is_some_and(|at| now.duration_since(at) < Duration::from_secs(1)) {
                return;
            }
            *swept = Some(now);
        }
        if let Ok(mut blocks) = self.blocks.write() {
            blocks.retain(|_, b| b.until > now);
            self.entries.store(blocks.len(), Ordering::Relaxed);
        }
    }

    /// Block `key` for `ttl`, unless it already is or the list is full.
    pub fn block(&self, key: &str, detector: &'static str, reason: String, ttl: Duration) -> bool {
        let Ok(mut blocks) = self.blocks.write() else {
            return false;
        };
        let now = Instant::now();
        if blocks.get(key).is_some_and(|b| b.until > now) || blocks.len() >= MAX_BLOCKS {
            return false;
        }
        blocks.insert(
            key.to_string(),
            Block {
                detector,
                reason,
                until: now + ttl,
            },
        );
        self.entries.store(blocks.len(), Ordering::Relaxed);
        true
    }

    /// Lift `key`'s block; whether there was one in force.
    pub fn lift(&self, key: &str) -> bool {
        let Ok(mut blocks) = self.blocks.write() else {
            return false;
        };
        let lifted = blocks.remove(key).is_some_and(|b| b.until > Instant::now());
        self.entries.store(blocks.len(), Ordering::Relaxed);
        lifted
    }

    /// Every block in force.
    pub fn list(&self) -> Vec<(String, Block)> {
        let now = Instant::now();
        self.blocks.read().map_or_else(
            |_| Vec::new(),
            |blocks| {
                let mut list: Vec<_> = blocks
                    .iter()
                    .filter(|(_, b)| b.until > now)
                    .map(|(k, b)| (k.clone(), b.clone()))
                    .collect();
                list.sort_by(|a, b| a.0.cmp(&b.0));
                list
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_expire_and_can_be_lifted() {
        let list = BlockList::default();
        assert!(list.blocked("ip:1.2.3.4").is_none());
        assert!(list.block(
            "ip:1.2.3.4",
            "auth_failures",
            "20 failures".into(),
            Duration::from_secs(60)
        ));
        assert!(!list.block(
            "ip:1.2.3.4",
            "auth_failures",
            "again".into(),
            Duration::from_secs(60)
        ));
        assert!(list.blocked("ip:1.2.3.4").is_some());
        assert!(list.lift("ip:1.2.3.4"));
        assert!(list.blocked("ip:1.2.3.4").is_none());
        list.block(
            "ip:5.6.7.8",
            "not_found",
            "50 misses".into(),
            Duration::ZERO,
        );
        assert!(list.blocked("ip:5.6.7.8").is_none(), "expired");
        assert!(list.list().is_empty());
    }
}
