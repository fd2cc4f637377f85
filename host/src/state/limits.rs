//! Rate limits shared by every instance: one GCRA per key in Redis
//! (`gcra.lua`, atomic, on the Redis server's clock), taken in leases.
//!
//! Precision: an instance takes up to `lease` tokens in one call (at most
//! a tenth of the policy's burst, and never more than Redis grants), and
//! spends them locally within a second. With leases of more than one
//! token it asks Redis for a key once at a time: requests that miss while
//! it asks wait for the answer rather than ask too (asked in parallel, a
//! refusal answered before a grant refused requests the grant would have
//! served). So the instances together never
//! allow more than the policy; they may allow fewer when tokens one
//! instance holds expire unused while another is refused (at most what
//! the instance took in its last second, usually `lease - 1`). Rates
//! finer than one request per microsecond are held to that. A refusal is
//! remembered until the time Redis said a token frees, so a client over
//! its limit costs no round trip until then.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

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
    held: Mutex<Held>,
}

/// The leases, and the keys this instance is asking Redis for.
#[derive(Default)]
struct Held {
    leases: HashMap<String, Lease>,
    /// The call one request is making for the key.
    asking: HashMap<String, Arc<Answer>>,
}

/// A call to Redis other requests for its key wait for.
#[derive(Default)]
struct Answer {
    /// Woken when the call is done: its lease is kept, or it failed.
    ready: Arc<Notify>,
    /// Why it failed: the waiting requests fail too, rather than each
    /// ask in turn and wait as long.
    failure: OnceLock<StateError>,
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
            held: Mutex::new(Held::default()),
            state,
        })
    }

    /// Count one request under `key`; an error when Redis failed.
    pub async fn take(&self, key: &str) -> Result<Taken, StateError> {
        loop {
            let now = Instant::now();
            let mut wanted = self.lease;
            let asking = {
                let mut held = self.lock();
                if let Some(lease) = held.leases.get_mut(key)
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
                if let Some(answer) = held.asking.get(key) {
                    // Made before the lock is let go, so the wake-up
                    // cannot be missed.
                    Some((answer.clone(), answer.ready.clone().notified_owned()))
                } else {
                    if held.leases.len() >= self.max_keys {
                        held.leases.retain(|_, lease| now < lease.until);
                        if held.leases.len() >= self.max_keys {
                            // No room to keep a lease: take only what this
                            // request needs.
                            wanted = 1;
                        }
                    }
                    // A call for one token serves only its request:
                    // others gain nothing by waiting for it (with
                    // `lease = 1`, requests would queue behind one round
                    // trip each).
                    if wanted > 1 {
                        held.asking.insert(key.to_string(), Arc::default());
                    }
                    None
                }
            };
            match asking {
                // Another request is asking: its answer, then look again.
                Some((answer, ready)) => {
                    ready.await;
                    if let Some(failure) = answer.failure.get() {
                        return Err(failure.clone());
                    }
                }
                None if wanted == 1 => return self.ask(key, wanted).await,
                None => {
                    let asker = Asker { limit: self, key };
                    let result = self.ask(key, wanted).await;
                    if let Err(failure) = &result {
                        asker.failed(failure);
                    }
                    return result;
                }
            }
        }
    }

    /// Ask Redis for `wanted` tokens under `key` and keep the lease.
    async fn ask(&self, key: &str, wanted: u32) -> Result<Taken, StateError> {
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
        let mut held = self.lock();
        let room = held.leases.len() < self.max_keys;
        match held.leases.get_mut(key) {
            Some(kept) => *kept = lease,
            None if room => {
                held.leases.insert(key.to_string(), lease);
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
        self.lock().leases.retain(|_, lease| now < lease.until);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        // Each change is a single insert, update or retain: a poisoned
        // map is still consistent.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The request asking Redis for a key: when it is done, answered or
/// dropped (its client gone), the requests waiting for it look again.
struct Asker<'a> {
    limit: &'a SharedLimit,
    key: &'a str,
}

impl Asker<'_> {
    /// The call failed with `failure`, which the waiting requests get.
    fn failed(self, failure: &StateError) {
        if let Some(answer) = self.limit.lock().asking.get(self.key) {
            let _ = answer.failure.set(failure.clone());
        }
    }
}

impl Drop for Asker<'_> {
    fn drop(&mut self) {
        if let Some(answer) = self.limit.lock().asking.remove(self.key) {
            answer.ready.notify_waiters();
        }
    }
}
