//! The crash-loop breaker of one plugin. Closed, it counts calls and
//! failures (traps, timeouts) over a sliding window kept in ten buckets;
//! at least `failures` failures making up at least `failure_ratio` of the
//! window's calls open it, and for `cooldown` the plugin is not called at
//! all (its `on_error` outcome applies at once, so a crashing plugin costs
//! nothing per request). The ratio is what keeps a few hostile requests
//! that make a plugin fail from switching it off for everyone while most
//! calls succeed. Then it is half-open: one call goes through as a trial;
//! success closes the breaker, failure opens it for another cooldown.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::BreakerConfig;

/// The breaker's state, as the admin API and logs show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are skipped until the cooldown ends.
    Open,
    /// One trial call is in flight or allowed.
    HalfOpen,
}

/// What to do with a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Call the plugin.
    Call,
    /// Call it as the half-open trial.
    Trial,
    /// Do not call it: the breaker is open.
    Skip,
}

/// Buckets the window is counted in.
const BUCKETS: u64 = 10;

/// Calls and failures in one bucket of the window.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Which bucket of time since the breaker was made this one counts.
    index: u64,
    calls: u32,
    failures: u32,
}

enum State {
    Closed {
        buckets: [Bucket; BUCKETS as usize],
    },
    Open {
        until: Instant,
    },
    /// A trial started at `since`. A trial whose outcome never came (its
    /// request was cancelled) is given up after a cooldown.
    HalfOpen {
        since: Instant,
    },
}

fn closed() -> State {
    State::Closed {
        buckets: [Bucket::default(); BUCKETS as usize],
    }
}

/// One plugin's breaker.
pub struct Breaker {
    failures: u32,
    failure_ratio: f64,
    bucket: Duration,
    cooldown: Duration,
    born: Instant,
    state: Mutex<State>,
}

impl Breaker {
    /// From config; `failures = 0` makes one that never opens.
    pub fn new(config: &BreakerConfig) -> Self {
        let window = Duration::from_millis(config.window_ms);
        Self {
            failures: config.failures,
            failure_ratio: config.failure_ratio,
            bucket: (window / BUCKETS as u32).max(Duration::from_millis(1)),
            cooldown: Duration::from_millis(config.cooldown_ms),
            born: Instant::now(),
            state: Mutex::new(closed()),
        }
    }

    /// Whether a call may go ahead now.
    pub fn admit(&self) -> Admission {
        if self.failures == 0 {
            return Admission::Call;
        }
        let Ok(mut state) = self.state.lock() else {
            return Admission::Call;
        };
        if matches!(*state, State::Closed { .. }) {
            return Admission::Call;
        }
        let now = Instant::now();
        match &mut *state {
            State::Closed { .. } => Admission::Call,
            State::Open { until } if now < *until => Admission::Skip,
            State::HalfOpen { since } if now.duration_since(*since) < self.cooldown => {
                Admission::Skip
            }
            State::Open { .. } | State::HalfOpen { .. } => {
                *state = State::HalfOpen { since: now };
                Admission::Trial
            }
        }
    }

    /// A call ended: `failed` for a trap or timeout. Returns the state it
    /// changed to, if it changed.
    pub fn record(&self, admission: Admission, failed: bool) -> Option<BreakerState> {
        if self.failures == 0 || admission == Admission::Skip {
            return None;
        }
        let mut state = self.state.lock().ok()?;
        let now = Instant::now();
        match (&mut *state, admission, failed) {
            (State::HalfOpen { .. }, Admission::Trial, false) => {
                *state = closed();
                Some(BreakerState::Closed)
            }
            (State::HalfOpen { .. }, Admission::Trial, true) => {
                *state = State::Open {
                    until: now + self.cooldown,
                };
                Some(BreakerState::Open)
            }
            (State::Closed { buckets }, _, _) => {
                let index = u64::try_from(
                    now.duration_since(self.born).as_nanos() / self.bucket.as_nanos().max(1),
                )
                .unwrap_or(u64::MAX);
                tally(buckets, index, failed);
                if !failed {
                    return None;
                }
                let (calls, failures) = window(buckets, index);
                let ratio = failures as f64 / calls.max(1) as f64;
                if failures >= u64::from(self.failures) && ratio >= self.failure_ratio {
                    *state = State::Open {
                        until: now + self.cooldown,
                    };
                    Some(BreakerState::Open)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// A trial that never reached the plugin (no instance was free): the
    /// next request may try instead of waiting out another cooldown.
    pub fn abandon(&self, admission: Admission) {
        if admission != Admission::Trial {
            return;
        }
        if let Ok(mut state) = self.state.lock()
            && matches!(*state, State::HalfOpen { .. })
        {
            *state = State::Open {
                until: Instant::now(),
            };
        }
    }

    /// The state now.
    pub fn state(&self) -> BreakerState {
        match self.state.lock().as_deref() {
            Ok(State::Closed { .. }) | Err(_) => BreakerState::Closed,
            Ok(State::Open { until }) if Instant::now() < *until => BreakerState::Open,
            Ok(State::Open { .. } | State::HalfOpen { .. }) => BreakerState::HalfOpen,
        }
    }
}

/// Count one call in bucket `index`.
fn tally(buckets: &mut [Bucket; BUCKETS as usize], index: u64, failed: bool) {
    let slot = &mut buckets[(index % BUCKETS) as usize];
    if slot.index != index {
        *slot = Bucket {
            index,
            ..Bucket::default()
        };
    }
    slot.calls = slot.calls.saturating_add(1);
    slot.failures = slot.failures.saturating_add(u32::from(failed));
}

/// The calls and failures of the window that ends with bucket `index`.
/// Only a failure can open the breaker, so only a failure sums them.
fn window(buckets: &[Bucket; BUCKETS as usize], index: u64) -> (u64, u64) {
    buckets
        .iter()
        .filter(|b| b.index <= index && b.index + BUCKETS > index)
        .fold((0, 0), |(calls, failures), b| {
            (calls + u64::from(b.calls), failures + u64::from(b.failures))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(cooldown_ms: u64) -> Breaker {
        Breaker::new(&BreakerConfig {
            failures: 3,
            failure_ratio: 0.5,
            window_ms: 60_000,
            cooldown_ms,
        })
    }

    #[test]
    fn failures_in_the_window_open_it() {
        let b = breaker(60_000);
        for _ in 0..2 {
            assert_eq!(b.admit(), Admission::Call);
            assert_eq!(b.record(Admission::Call, true), None);
        }
        assert_eq!(b.record(Admission::Call, true), Some(BreakerState::Open));
        assert_eq!(b.admit(), Admission::Skip);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn a_few_failures_among_many_successes_do_not_open_it() {
        let b = breaker(60_000);
        for _ in 0..20 {
            b.record(Admission::Call, false);
        }
        for _ in 0..5 {
            assert_eq!(b.record(Admission::Call, true), None);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        for _ in 0..15 {
            b.record(Admission::Call, true);
        }
        assert_eq!(b.state(), BreakerState::Open, "20 of 40 calls failed");
    }

    #[test]
    fn after_the_cooldown_one_trial_decides() {
        let b = breaker(0);
        for _ in 0..3 {
            b.record(Admission::Call, true);
        }
        assert_eq!(b.admit(), Admission::Trial);
        assert_eq!(b.record(Admission::Trial, true), Some(BreakerState::Open));
        assert_eq!(b.admit(), Admission::Trial);
        assert_eq!(
            b.record(Admission::Trial, false),
            Some(BreakerState::Closed)
        );
        assert_eq!(b.admit(), Admission::Call);
    }

    /// Open, with its cooldown over.
    fn cooled_down() -> Breaker {
        let b = breaker(60_000);
        for _ in 0..3 {
            b.record(Admission::Call, true);
        }
        if let Ok(mut state) = b.state.lock() {
            *state = State::Open {
                until: Instant::now(),
            };
        }
        b
    }

    #[test]
    fn one_trial_at_a_time() {
        let b = cooled_down();
        assert_eq!(b.admit(), Admission::Trial);
        assert_eq!(b.admit(), Admission::Skip);
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[test]
    fn an_abandoned_trial_lets_the_next_request_try() {
        let b = cooled_down();
        assert_eq!(b.admit(), Admission::Trial);
        b.abandon(Admission::Trial);
        assert_eq!(b.admit(), Admission::Trial);
    }

    #[test]
    fn zero_failures_disables_it() {
        let off = Breaker::new(&BreakerConfig {
            failures: 0,
            failure_ratio: 0.5,
            window_ms: 1,
            cooldown_ms: 1,
        });
        for _ in 0..10 {
            off.record(Admission::Call, true);
        }
        assert_eq!(off.admit(), Admission::Call);
    }

    #[test]
    fn old_buckets_leave_the_window() {
        let mut buckets = [Bucket::default(); BUCKETS as usize];
        for index in 0..5 {
            tally(&mut buckets, index, true);
        }
        tally(&mut buckets, 13, false);
        assert_eq!(window(&buckets, 13), (2, 1), "buckets 0-3 are past");
    }
}
