//! Counts per key over a sliding window, with a bound on the keys tracked:
//! a flood of distinct clients cannot grow it past `max`. When full, keys
//! with nothing in the current or the previous window are swept; if it is
//! still full, new keys are not counted (and the caller is told, so it can
//! say so in the metrics).
//!
//! The count is the sliding-window estimate rate limiters use: this
//! fixed window's events plus the previous window's, weighted by the part
//! of the previous window the sliding one still covers (rounded up). Fixed
//! windows alone let events that straddle a boundary escape: three in one
//! second counted 2 and 1.

use std::collections::HashMap;

/// Counts of one detector.
pub struct Windows {
    counts: HashMap<String, Entry>,
    max: usize,
    /// The window last swept: a full table is swept once per window, not
    /// on every new key.
    swept: Option<u64>,
}

/// One key's events in its latest fixed window and the one before.
struct Entry {
    window: u64,
    current: u32,
    previous: u32,
    /// The fixed window in which the count last reached the limit.
    reached_in: Option<u64>,
}

/// What counting one event found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// The key's count over the sliding window, this event included, when
    /// this event did not reach the limit (the count is below it, or it
    /// was reported lately).
    Count(u32),
    /// The count reached the limit with this event, for the first time
    /// since the window before the current one: reported once, where the
    /// estimate, which falls as time passes and rises with each event,
    /// may touch the limit again and again.
    Reached(u32),
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

    /// Count an event for `key` at `now` (seconds) over a sliding window
    /// of `window` seconds, against `limit`.
    pub fn count(&mut self, key: &str, now: u64, window: u64, limit: u32) -> Counted {
        let length = window.max(1);
        let index = now / length;
        if let Some(entry) = self.counts.get_mut(key) {
            // A late-stamped event is counted as at the current window's
            // start.
            let elapsed = if index < entry.window {
                0
            } else {
                now % length
            };
            entry.advance(index);
            entry.current = entry.current.saturating_add(1);
            let count = entry.estimate(elapsed, length);
            return entry.judge(count, limit);
        }
        if self.counts.len() >= self.max && self.swept != Some(index) {
            self.swept = Some(index);
            self.counts
                .retain(|_, entry| entry.window.saturating_add(1) >= index);
        }
        if self.counts.len() >= self.max {
            return Counted::Untracked;
        }
        let entry = self.counts.entry(key.to_string()).or_insert(Entry {
            window: index,
            current: 1,
            previous: 0,
            reached_in: None,
        });
        entry.judge(1, limit)
    }

    /// Forget `key` (after a block is lifted, it starts afresh).
    pub fn forget(&mut self, key: &str) {
        self.counts.remove(key);
    }
}

impl Entry {
    /// Move to fixed window `index`, keeping what the one before it held.
    /// An event stamped a little earlier than the latest (read before a
    /// racing one took the lock) counts in the current window.
    fn advance(&mut self, index: u64) {
        if index <= self.window {
            return;
        }
        self.previous = if self.window.saturating_add(1) == index {
            self.current
        } else {
            0
        };
        self.current = 0;
        self.window = index;
    }

    /// The sliding count, `elapsed` seconds into the current fixed window.
    fn estimate(&self, elapsed: u64, length: u64) -> u32 {
        let covered = u64::from(self.previous).saturating_mul(length.saturating_sub(elapsed));
        let weighted = u32::try_from(covered.div_ceil(length)).unwrap_or(u32::MAX);
        self.current.saturating_add(weighted)
    }

    /// `count` against `limit`: reached once, then not again until a
    /// fixed window without a report has passed.
    fn judge(&mut self, count: u32, limit: u32) -> Counted {
        let reported_lately = self
            .reached_in
            .is_some_and(|at| at.saturating_add(1) >= self.window);
        if count >= limit && !reported_lately {
            self.reached_in = Some(self.window);
            return Counted::Reached(count);
        }
        Counted::Count(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_LIMIT: u32 = u32::MAX;

    #[test]
    fn the_previous_window_fades_as_the_sliding_one_moves_on() {
        let mut windows = Windows::new(10);
        assert_eq!(windows.count("a", 100, 60, NO_LIMIT), Counted::Count(1));
        assert_eq!(windows.count("a", 110, 60, NO_LIMIT), Counted::Count(2));
        // Fixed window 120-179: the previous two count in full at its
        // start and as one (rounded up from half) at 150.
        assert_eq!(windows.count("a", 120, 60, NO_LIMIT), Counted::Count(3));
        assert_eq!(windows.count("a", 150, 60, NO_LIMIT), Counted::Count(3));
        // 180-239: the two of 120-179 in full, then their last sixtieth.
        assert_eq!(windows.count("a", 180, 60, NO_LIMIT), Counted::Count(3));
        assert_eq!(windows.count("a", 239, 60, NO_LIMIT), Counted::Count(3));
        assert_eq!(
            windows.count("a", 400, 60, NO_LIMIT),
            Counted::Count(1),
            "idle"
        );
    }

    #[test]
    fn events_straddling_a_boundary_count_together() {
        let mut windows = Windows::new(10);
        assert_eq!(windows.count("a", 59, 60, NO_LIMIT), Counted::Count(1));
        assert_eq!(windows.count("a", 59, 60, NO_LIMIT), Counted::Count(2));
        assert_eq!(windows.count("a", 60, 60, NO_LIMIT), Counted::Count(3));
    }

    #[test]
    fn the_table_is_bounded() {
        let mut windows = Windows::new(2);
        windows.count("a", 0, 60, NO_LIMIT);
        windows.count("b", 0, 60, NO_LIMIT);
        assert_eq!(windows.count("c", 1, 60, NO_LIMIT), Counted::Untracked);
        assert_eq!(
            windows.count("a", 2, 60, NO_LIMIT),
            Counted::Count(2),
            "known keys still count"
        );
        // Keys of the previous window still count; two windows later
        // they are swept.
        assert_eq!(windows.count("c", 61, 60, NO_LIMIT), Counted::Untracked);
        assert_eq!(windows.count("c", 121, 60, NO_LIMIT), Counted::Count(1));
    }

    #[test]
    fn the_limit_is_reached_once_while_the_count_stays_at_it() {
        let mut windows = Windows::new(10);
        let mut results = Vec::new();
        // Ten events in the first second, then one every six seconds for
        // three minutes: the count hovers at the limit throughout.
        for _ in 0..10 {
            results.push(windows.count("a", 0, 60, 10));
        }
        for at in (6..180).step_by(6) {
            results.push(windows.count("a", at, 60, 10));
        }
        assert_eq!(results[9], Counted::Reached(10), "{results:?}");
        let reached = results
            .iter()
            .filter(|r| matches!(r, Counted::Reached(_)))
            .count();
        // Once, and once more after a whole window without a report:
        // not at every event that touches the limit.
        assert_eq!(reached, 2, "{results:?}");
    }

    #[test]
    fn an_event_stamped_a_moment_late_counts_in_the_current_window() {
        let mut windows = Windows::new(10);
        assert_eq!(windows.count("a", 59, 60, 3), Counted::Count(1));
        assert_eq!(windows.count("a", 60, 60, 3), Counted::Count(2));
        assert_eq!(windows.count("a", 59, 60, 3), Counted::Reached(3));
    }
}
