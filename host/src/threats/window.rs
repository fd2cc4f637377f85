//! Counts per key in fixed windows, with a bound on the keys tracked: a
//! flood of distinct clients cannot grow it past `max`. When full, keys
//! whose window has passed are swept; if it is still full, new keys are
//! not counted (and the caller is told, so it can say so in the metrics).

use std::collections::HashMap;

/// Counts of one detector.
pub struct Windows {
    counts: HashMap<String, (u64, u32)>,
    max: usize,
    /// The window last swept: a full table is swept once per window, not
    /// on every new key.
    swept: Option<u64>,
}

/// What counting one event found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// The key's count in its current window, this event included.
    Count(u32),
    /// The table is full of live keys: not counted.
    Untracked,
}

impl Windows {
    /// Track at most `max` keys.
    pub fn new(max: usize) -> Self {
        Self {
            counts: HashMap::new(),
            max: max.max(1),
            swept: None,
        }
    }

    /// Count an event for `key` at `now` (seconds) in windows of `window`
    /// seconds.
    pub fn count(&mut self, key: &str, now: u64, window: u64) -> Counted {
        let index = now / window.max(1);
        if let Some((at, count)) = self.counts.get_mut(key) {
            if *at == index {
                *count = count.saturating_add(1);
            } else {
                *at = index;
                *count = 1;
            }
            return Counted::Count(*count);
        }
        if self.counts.len() >= self.max && self.swept != Some(index) {
            self.swept = Some(index);
            self.counts.retain(|_, (at, _)| *at == index);
        }
        if self.counts.len() >= self.max {
            return Counted::Untracked;
        }
        self.counts.insert(key.to_string(), (index, 1));
        Counted::Count(1)
    }

    /// Forget `key` (after a block is lifted, it starts afresh).
    pub fn forget(&mut self, key: &str) {
        self.counts.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_restart_with_each_window() {
        let mut windows = Windows::new(10);
        assert_eq!(windows.count("a", 100, 60), Counted::Count(1));
        assert_eq!(windows.count("a", 110, 60), Counted::Count(2));
        assert_eq!(
            windows.count("a", 120, 60),
            Counted::Count(1),
            "a new window"
        );
    }

    #[test]
    fn the_table_is_bounded() {
        let mut windows = Windows::new(2);
        windows.count("a", 0, 60);
        windows.count("b", 0, 60);
        assert_eq!(windows.count("c", 1, 60), Counted::Untracked);
        assert_eq!(
            windows.count("a", 2, 60),
            Counted::Count(2),
            "known keys still count"
        );
        // A later window sweeps the stale keys.
        assert_eq!(windows.count("c", 61, 60), Counted::Count(1));
    }
}
