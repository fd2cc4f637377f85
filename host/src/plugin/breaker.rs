//! The crash-loop breaker of one plugin. Closed, it counts traps and
//! timeouts in a sliding window; `failures` of them open it, and for
//! `cooldown` the plugin is not called at all (its `on_error` outcome
//! applies at once, so a crashing plugin costs nothing per request). Then
//! it is half-open: one call goes through as a trial; success closes the
//! breaker, failure opens it for another cooldown.

use std::collections::VecDeque;
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

enum State {
    Closed {
        failures: VecDeque<Instant>,
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

/// One plugin's breaker.
pub struct Breaker {
    failures: usize,
    window: Duration,
    cooldown: Duration,
    state: Mutex<State>,
}

impl Breaker {
    /// From config; `failures = 0` makes one that never opens.
    pub fn new(config: &BreakerConfig) -> Self {
        Self {
            failures: usize::try_from(config.failures).unwrap_or(usize::MAX),
            window: Duration::from_millis(config.window_ms),
            cooldown: Duration::from_millis(config.cooldown_ms),
            state: Mutex::new(State::Closed {
                failures: VecDeque::new(),
            }),
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
                *state = State::Closed {
                    failures: VecDeque::new(),
                };
                Some(BreakerState::Closed)
            }
            (State::HalfOpen { .. }, Admission::Trial, true) => {
                *state = State::Open {
                    until: now + self.cooldown,
                };
                Some(BreakerState::Open)
            }
            (State::Closed { failures }, _, true) => {
                while failures
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > self.window)
                {
                    failures.pop_front();
                }
                failures.push_back(now);
                if failures.len() >= self.failures {
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

    /// The state now.
    pub fn state(&self) -> BreakerState {
        match self.state.lock().as_deref() {
            Ok(State::Closed { .. }) | Err(_) => BreakerState::Closed,
            Ok(State::Open { until }) if Instant::now() < *until => BreakerState::Open,
            Ok(State::Open { .. } | State::HalfOpen { .. }) => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(cooldown_ms: u64) -> Breaker {
        Breaker::new(&BreakerConfig {
            failures: 3,
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

    #[test]
    fn one_trial_at_a_time() {
        let b = breaker(60_000);
        for _ in 0..3 {
            b.record(Admission::Call, true);
        }
        // Force the cooldown over.
        *b.state.lock().expect("lock") = State::Open {
            until: Instant::now(),
        };
        assert_eq!(b.admit(), Admission::Trial);
        assert_eq!(b.admit(), Admission::Skip);
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[test]
    fn successes_do_not_count_and_zero_disables() {
        let b = breaker(60_000);
        for _ in 0..10 {
            b.record(Admission::Call, false);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        let off = Breaker::new(&BreakerConfig {
            failures: 0,
            window_ms: 1,
            cooldown_ms: 1,
        });
        for _ in 0..10 {
            off.record(Admission::Call, true);
        }
        assert_eq!(off.admit(), Admission::Call);
    }
}
