//! Round-robin over a route's targets with passive health checks: a target
//! that fails `eject_after_failures` times in a row (connect errors,
//! timeouts, 502-504 answers) is left out for `eject_ms`. If every target is
//! ejected, they are all tried anyway: a guess beats certain failure.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::plugin::engine::process_start;

/// One target.
pub struct Target {
    /// `host:port`.
    pub authority: String,
    consecutive_failures: AtomicU32,
    /// Milliseconds since process start until which it is ejected.
    ejected_until_ms: AtomicU64,
}

/// A route's targets.
pub struct Balancer {
    targets: Vec<Target>,
    next: AtomicUsize,
    eject_after: u32,
    eject_for: Duration,
}

fn now_ms() -> u64 {
    u64::try_from(process_start().elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Balancer {
    /// Balance over `authorities`.
    pub fn new(authorities: &[String], eject_after: u32, eject_for: Duration) -> Self {
        let targets = authorities
            .iter()
            .map(|authority| Target {
                authority: authority.clone(),
                consecutive_failures: AtomicU32::new(0),
                ejected_until_ms: AtomicU64::new(0),
            })
            .collect();
        Self {
            targets,
            next: AtomicUsize::new(0),
            eject_after: eject_after.max(1),
            eject_for,
        }
    }

    /// The next healthy target, skipping `avoid` (a target that just failed
    /// this request) when there is another.
    pub fn pick(&self, avoid: Option<usize>) -> usize {
        let n = self.targets.len();
        let now = now_ms();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let healthy = (0..n).map(|offset| (start + offset) % n).find(|&i| {
            Some(i) != avoid && self.targets[i].ejected_until_ms.load(Ordering::Relaxed) <= now
        });
        healthy.unwrap_or_else(|| match avoid {
            Some(a) if n > 1 => (a + 1) % n,
            _ => start % n,
        })
    }

    /// Whether every target is ejected.
    pub fn all_ejected(&self) -> bool {
        let now = now_ms();
        self.targets
            .iter()
            .all(|t| t.ejected_until_ms.load(Ordering::Relaxed) > now)
    }

    /// How many targets there are.
    pub fn target_count(&self) -> usize {
        self.targets.len()
    }

    /// The target at `index`.
    pub fn target(&self, index: usize) -> &Target {
        &self.targets[index]
    }

    /// Record a good exchange with a target.
    pub fn record_success(&self, index: usize) {
        self.targets[index]
            .consecutive_failures
            .store(0, Ordering::Relaxed);
    }

    /// Record a failure; eject the target once it has failed enough in a row.
    pub fn record_failure(&self, index: usize) {
        let target = &self.targets[index];
        let failures = target.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= self.eject_after {
            let until =
                now_ms() + u64::try_from(self.eject_for.as_millis()).unwrap_or(u64::MAX / 2);
            target.ejected_until_ms.store(until, Ordering::Relaxed);
            target.consecutive_failures.store(0, Ordering::Relaxed);
            tracing::warn!(target = %target.authority, eject_ms = self.eject_for.as_millis() as u64, "upstream target ejected");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn balancer() -> Balancer {
        let targets = ["a:1".to_string(), "b:1".to_string(), "c:1".to_string()];
        Balancer::new(&targets, 2, Duration::from_secs(60))
    }

    #[test]
    fn round_robin_visits_every_target() {
        let b = balancer();
        let picks: Vec<usize> = (0..3).map(|_| b.pick(None)).collect();
        assert_eq!(picks, vec![0, 1, 2]);
    }

    #[test]
    fn failing_targets_are_ejected() {
        let b = balancer();
        b.record_failure(1);
        b.record_failure(1);
        let picks: Vec<usize> = (0..6).map(|_| b.pick(None)).collect();
        assert!(!picks.contains(&1), "{picks:?}");
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let b = balancer();
        b.record_failure(1);
        b.record_success(1);
        b.record_failure(1);
        assert!((0..6).map(|_| b.pick(None)).any(|i| i == 1));
    }

    #[test]
    fn a_pool_is_down_when_every_target_is_ejected() {
        let b = balancer();
        for index in 0..3 {
            assert!(!b.all_ejected());
            b.record_failure(index);
            b.record_failure(index);
        }
        assert!(b.all_ejected());
    }

    #[test]
    fn retries_avoid_the_failed_target() {
        let b = balancer();
        for _ in 0..10 {
            assert_ne!(b.pick(Some(2)), 2);
        }
    }
}
