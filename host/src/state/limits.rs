//! Rate limits shared by every instance: one GCRA per key in Redis
//! (`gcra.lua`, atomic, on the Redis server's clock), taken in leases.
//!
//! Precision: an instance takes up to `lease` tokens in one call (at most
//! a tenth of the policy's burst, and never more than Redis grants), and
//! spends them locally within a second; concurrent calls for one key add
//! up rather than replace each other. So the instances together never
//! allow more than the policy; they may allow fewer when tokens one
//! instance holds expire unused while another is refused (at most what
//! the instance took in its last second, usually `lease - 1`). Rates
//! finer than one request per microsecond are held to that. A refusal is remembered until
//! the time Redis said a token frees, so a client over its limit costs no
//! round trip until then.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{SharedState, StateError};
use crate::config::RateLimitConfig;

/// How long leased tokens may be spent.
const LEASE_LIFETIME: Duration = Duration::from_secs(1);

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Allowed; about this many requests left in the burst.
    Allowed {
        /// Requests left.
        remaining: u32,
    },
    /// Refused until a token frees.
    Limited {
        /// When one does.
        retry_after: Duration,
    },
}

/// What this instance holds for one key.
struct Lease {
    /// Tokens still to spend (0 with `refused_until`: refused).
    tokens: u32,
    /// What Redis said was left after the grant.
    remaining: u32,
    /// Until when the tokens, or the refusal, hold.
    until: Instant,
    refused: bool,
}

/// One policy's shared limit.
pub struct SharedLimit {
    state: Arc<SharedState>,
    script: redis::Script,
    key_prefix: String,
    emission_us: u64,
    tolerance_us: u64,
    lease: u32,
    max_keys: usize,
    leases: Mutex<HashMap<String, Lease>>,
}

impl SharedLimit {
    /// The shared form of policy `name`.
    pub fn new(state: Arc<SharedState>, name: &str, config: &RateLimitConfig) -> Option<Self> {
        let requests = u64::from(config.requests);
        let burst = config.burst.unwrap_or(config.requests);
        if requests == 0 || burst == 0 {
            return None;
        }
        // Rounded up, so a rate finer than a microsecond per request is
        // held to one per microsecond rather than allowed more.
        let emission_us = config
            .per_seconds
            .checked_mul(1_000_000)?
            .div_ceil(requests)
            .max(1);
        Some(Self {
            key_prefix: state.key(&format!("rl:{name}:")),
            script: redis::Script::new(include_str!("gcra.lua")),
            emission_us,
            tolerance_us: emission_us * u64::from(burst),
            lease: (burst / 10).clamp(1, state.lease()),
            max_keys: config.max_keys,
            leases: Mutex::new(HashMap::new()),
            state,
        })
    }

    /// Count one request under `key`; an error when Redis failed.
    pub async fn take(&self, key: &str) -> Result<Taken, StateError> {
        let now = Instant::now();
        let mut wanted = self.lease;
        {
            let mut leases = self.lock();
            if let Some(lease) = leases.get_mut(key)
                && now < lease.until
            {
                if lease.refused {
                    return Ok(Taken::Limited {
                        retry_after: lease.until - now,
                    });
                }
                if lease.tokens > 0 {
                    lease.tokens -= 1;
                    return Ok(Taken::Allowed {
                        remaining: lease.remaining + lease.tokens,
                    });
                }
            }
            if leases.len() >= self.max_keys {
                leases.retain(|_, lease| now < lease.until);
                if leases.len() >= self.max_keys {
                    // No room to keep a lease: take only what this
                    // request needs.
                    wanted = 1;
                }
            }
        }
        let redis_key = format!("{}{key}", self.key_prefix);
        let mut call = self.script.key(&redis_key);
        call.arg(self.emission_us)
            .arg(self.tolerance_us)
            .arg(wanted);
        let (granted, wait_us, remaining) = self
            .state
            .call("rate_limits", |mut connection| async move {
                call.invoke_async::<(u32, u64, u32)>(&mut connection).await
            })
            .await?;
        let now = Instant::now();
        let (taken, lease) = if granted == 0 {
            let retry_after = Duration::from_micros(wait_us.max(1));
            let lease = Lease {
                tokens: 0,
                remaining: 0,
                until: now + retry_after,
                refused: true,
            };
            (Taken::Limited { retry_after }, lease)
        } else {
            let lease = Lease {
                tokens: granted - 1,
                remaining,
                until: now + LEASE_LIFETIME,
                refused: false,
            };
            let taken = Taken::Allowed {
                remaining: remaining + lease.tokens,
            };
            (taken, lease)
        };
        let mut leases = self.lock();
        let room = leases.len() < self.max_keys;
        match leases.get_mut(key) {
            // Other requests on this key asked Redis meanwhile: what they
            // hold is kept, and a grant adds to it, so concurrent misses
            // waste no token.
            Some(held) if now < held.until && !held.refused && held.tokens > 0 => {
                if granted > 0 {
                    held.tokens += lease.tokens;
                    held.remaining = lease.remaining;
                    held.until = lease.until;
                    return Ok(taken);
                }
                // Refused by Redis, but this instance holds a token.
                held.tokens -= 1;
                return Ok(Taken::Allowed {
                    remaining: held.remaining + held.tokens,
                });
            }
            Some(held) => *held = lease,
            None if room => {
                leases.insert(key.to_string(), lease);
            }
            None => {}
        }
        Ok(taken)
    }

    /// What to do while Redis fails.
    pub fn on_error(&self) -> crate::config::RateLimitsOnError {
        self.state.rate_limits_on_error
    }

    /// Drop leases and refusals that ran out.
    pub fn sweep(&self) {
        let now = Instant::now();
        self.lock().retain(|_, lease| now < lease.until);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lease>> {
        // Each change is a single insert, update or retain: a poisoned
        // map is still consistent.
        self.leases.lock().unwrap_or_else(|e| e.into_inner())
    }
}
