//! One rate-limit policy: a keyed governor limiter with bounded state.

use std::hash::{Hash, Hasher};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::key::KeySource;
use crate::config::{RateLimitConfig, RateLimitsOnError};
use crate::state::SharedState;
use crate::state::limits::{SharedLimit, Taken};

type KeyedLimiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// Shared buckets used while a policy tracks more than `max_keys` keys.
const OVERFLOW_BUCKETS: u64 = 1024;

/// A configured policy.
pub struct Policy {
    /// Its name, as in `RateLimit-Policy`.
    pub name: Arc<str>,
    /// What it counts by.
    pub key: KeySource,
    limiter: KeyedLimiter,
    clock: DefaultClock,
    max_keys: usize,
    overflowing: AtomicBool,
    /// `"name";q=REQUESTS;w=SECONDS`
    policy_field: String,
    /// What it was built from: a reload keeps the policy, and its counts,
    /// while this stays the same.
    pub settings: RateLimitConfig,
    /// Counted in Redis with the other instances, when state is shared.
    shared: Option<SharedLimit>,
}

/// Why a request was not allowed.
#[derive(Debug, Clone)]
pub enum Refused {
    /// Over the limit: 429.
    Limited(Rejection),
    /// The shared counter could not be reached and the config says to
    /// refuse meanwhile: 503.
    Unavailable,
}

/// An allowed request: how much is left.
#[derive(Debug, Clone)]
pub struct Allowance {
    /// The policy.
    pub policy: Arc<Policy>,
    /// Requests left in the burst.
    pub remaining: u32,
}

/// A rejected request.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// The policy's `RateLimit-Policy` field.
    pub policy_field: String,
    /// The policy's name.
    pub name: Arc<str>,
    /// When a request would be allowed again.
    pub retry_after: Duration,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .field("key", &self.key)
            .finish()
    }
}

impl Policy {
    /// Build from a validated config; `None` if the numbers are out of range.
    pub fn new(name: &str, config: &RateLimitConfig) -> Option<Self> {
        Self::new_shared(name, config, None)
    }

    /// As [`Policy::new`], counted in Redis when `shared` gives the store
    /// and the counter's name there (the local limiter then serves
    /// plugins' checks and Redis outages).
    pub fn new_shared(
        name: &str,
        config: &RateLimitConfig,
        shared: Option<(&Arc<SharedState>, &str)>,
    ) -> Option<Self> {
        let requests = NonZeroU32::new(config.requests)?;
        let burst = NonZeroU32::new(config.burst.unwrap_or(config.requests))?;
        let period = Duration::from_secs(config.per_seconds) / requests.get();
        let quota = Quota::with_period(period)?.allow_burst(burst);
        let limiter = RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>();
        Some(Self {
            name: Arc::from(name),
            key: KeySource::parse(&config.key).ok()?,
            clock: limiter.clock().clone(),
            limiter,
            max_keys: config.max_keys,
            overflowing: AtomicBool::new(false),
            policy_field: format!("\"{name}\";q={};w={}", config.requests, config.per_seconds),
            settings: config.clone(),
            shared: match shared {
                Some((state, counter)) => Some(SharedLimit::new(state.clone(), counter, config)?),
                None => None,
            },
        })
    }

    /// Count one request under `key`: in Redis when the policy is shared
    /// (on failure, as `[state] rate_limits_on_error` says), else here.
    pub async fn check_shared(self: &Arc<Self>, key: &str) -> Result<Allowance, Refused> {
        let Some(shared) = &self.shared else {
            return self.check(key).map_err(Refused::Limited);
        };
        // Boxed: the Redis call's future is large, and held inline it would
        // size every request's future, shared limits or not.
        match Box::pin(shared.take(key)).await {
            Ok(Taken::Allowed { remaining }) => Ok(Allowance {
                policy: self.clone(),
                remaining,
            }),
            Ok(Taken::Limited { retry_after }) => Err(Refused::Limited(Rejection {
                policy_field: self.policy_field.clone(),
                name: self.name.clone(),
                retry_after,
            })),
            Err(_) => match shared.on_error() {
                RateLimitsOnError::Local => self.check(key).map_err(Refused::Limited),
                RateLimitsOnError::Deny => Err(Refused::Unavailable),
            },
        }
    }

    /// Whether it is counted in Redis.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Count one request under `key`.
    pub fn check(self: &Arc<Self>, key: &str) -> Result<Allowance, Rejection> {
        let key = if self.overflowing.load(Ordering::Relaxed) {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            key.hash(&mut hasher);
            format!("\u{0}overflow:{}", hasher.finish() % OVERFLOW_BUCKETS)
        } else {
            key.to_string()
        };
        match self.limiter.check_key(&key) {
            Ok(snapshot) => Ok(Allowance {
                policy: self.clone(),
                remaining: snapshot.remaining_burst_capacity(),
            }),
            Err(not_until) => Err(Rejection {
                policy_field: self.policy_field.clone(),
                name: self.name.clone(),
                retry_after: not_until.wait_time_from(self.clock.now()),
            }),
        }
    }

    /// The `RateLimit-Policy` field.
    pub fn policy_field(&self) -> &str {
        &self.policy_field
    }

    /// Evict idle keys; enter or leave overflow mode.
    fn sweep(&self) {
        if let Some(shared) = &self.shared {
            shared.sweep();
        }
        if self.limiter.len() > self.max_keys / 2 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        let len = self.limiter.len();
        let was = self.overflowing.load(Ordering::Relaxed);
        let now = if was {
            len > self.max_keys / 2
        } else {
            len >= self.max_keys
        };
        if now != was {
            self.overflowing.store(now, Ordering::Relaxed);
            tracing::warn!(
                policy = &*self.name,
                keys = len,
                overflowing = now,
                "rate-limit key table"
            );
        }
    }

    /// Keys tracked now.
    pub fn tracked_keys(&self) -> usize {
        self.limiter.len()
    }
}

/// Sweep every policy every second, forever.
pub async fn sweep_forever(policies: Vec<Arc<Policy>>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        for policy in &policies {
            policy.sweep();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(requests: u32, burst: u32, max_keys: usize) -> Arc<Policy> {
        let config = RateLimitConfig {
            key: "ip".into(),
            requests,
            per_seconds: 60,
            burst: Some(burst),
            max_keys,
        };
        Arc::new(Policy::new("test", &config).expect("valid policy"))
    }

    #[test]
    fn a_burst_is_allowed_then_refused() {
        let p = policy(60, 3, 100);
        assert_eq!(p.check("a").map(|a| a.remaining).ok(), Some(2));
        assert_eq!(p.check("a").map(|a| a.remaining).ok(), Some(1));
        assert_eq!(p.check("a").map(|a| a.remaining).ok(), Some(0));
        let rejection = p.check("a").expect_err("over the burst");
        assert!(rejection.retry_after > Duration::from_millis(500));
        assert!(rejection.retry_after <= Duration::from_secs(1));
        assert!(p.check("b").is_ok(), "keys are independent");
        assert_eq!(p.policy_field(), "\"test\";q=60;w=60");
    }

    #[test]
    fn the_key_table_stays_bounded() {
        let p = policy(60, 1, 100);
        for i in 0..100 {
            let _ = p.check(&format!("client-{i}"));
        }
        p.sweep();
        assert!(p.overflowing.load(Ordering::Relaxed));
        for i in 100..10_000 {
            let _ = p.check(&format!("client-{i}"));
        }
        assert!(
            p.tracked_keys() <= 100 + OVERFLOW_BUCKETS as usize,
            "{}",
            p.tracked_keys()
        );
    }
}
