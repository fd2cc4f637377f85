//! Usage plans: a rate (the native GCRA limiter) and a quota per UTC day
//! or month, counted per consumer. Locally, quota counts are kept in
//! memory (a restart starts the period's count again); with `[state]
//! backend = "redis"` the rate and the quota are counted in Redis, shared
//! by every instance ([`crate::state`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::unix_now;
use crate::config::{QuotaPeriod, RateLimitConfig, RateLimitsOnError, UsagePlanConfig};
use crate::ratelimit::{Policy, Refused, Rejection};
use crate::state::SharedState;
use crate::state::quotas::SharedQuota;

/// One plan.
pub struct Plan {
    rate: Option<Arc<Policy>>,
    quota: Option<Quota>,
}

struct Quota {
    limit: u64,
    period: QuotaPeriod,
    name: String,
    /// consumer → (start of the period counted, requests in it).
    counts: Mutex<HashMap<String, (u64, u64)>>,
    /// Counted in Redis, when state is shared (the local counts then
    /// serve Redis outages with `rate_limits_on_error = "local"`).
    shared: Option<(SharedQuota, RateLimitsOnError)>,
}

/// What a plan allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Left in the burst, when the plan has a rate.
    pub rate_remaining: Option<u32>,
    /// Left in the period, when the plan has a quota.
    pub quota_remaining: Option<u64>,
}

/// Why a plan refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// Over the rate.
    Rate {
        /// `RateLimit-Policy` field.
        policy: String,
        /// Until a request is allowed again.
        retry_after: Duration,
    },
    /// Over the quota.
    Quota {
        /// `RateLimit-Policy` field.
        policy: String,
        /// Until the period ends.
        retry_after: Duration,
    },
    /// The shared counts could not be reached and the config says to
    /// refuse meanwhile.
    Unavailable,
}

/// All plans of a config.
#[derive(Default)]
pub struct Plans(BTreeMap<String, Plan>);

impl Plans {
    /// Build from validated config; the error names the plan and reason.
    pub fn new(configs: &BTreeMap<String, UsagePlanConfig>) -> Result<Self, (String, String)> {
        Self::new_shared(configs, None)
    }

    /// As [`Plans::new`], counted in `shared` when given.
    pub fn new_shared(
        configs: &BTreeMap<String, UsagePlanConfig>,
        shared: Option<&Arc<SharedState>>,
    ) -> Result<Self, (String, String)> {
        let mut plans = BTreeMap::new();
        for (name, config) in configs {
            let rate = match config.requests {
                None => None,
                Some(requests) => {
                    let limit = RateLimitConfig {
                        key: "consumer".into(),
                        requests,
                        per_seconds: config.per_seconds,
                        burst: config.burst,
                        max_keys: usize::MAX,
                    };
                    let counter = format!("plan:{name}");
                    let policy =
                        Policy::new_shared(name, &limit, shared.map(|s| (s, counter.as_str())))
                            .ok_or_else(|| {
                                (
                                    name.clone(),
                                    "requests, per_seconds and burst must be at least 1"
                                        .to_string(),
                                )
                            })?;
                    Some(Arc::new(policy))
                }
            };
            let quota = match config.quota {
                Some(0) => return Err((name.clone(), "quota must be at least 1".into())),
                Some(limit) => Some(Quota {
                    limit,
                    period: config.quota_period,
                    name: name.clone(),
                    counts: Mutex::new(HashMap::new()),
                    shared: shared.map(|state| {
                        (
                            SharedQuota::new(state.clone(), name),
                            state.rate_limits_on_error,
                        )
                    }),
                }),
                None => None,
            };
            plans.insert(name.clone(), Plan { rate, quota });
        }
        Ok(Self(plans))
    }

    /// Whether a plan of this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Count one request of `consumer` on `plan`. `None` if there is no
    /// such plan.
    pub async fn check(&self, plan: &str, consumer: &str) -> Option<Result<Usage, Limit>> {
        let plan = self.0.get(plan)?;
        let rate_remaining = match &plan.rate {
            None => None,
            Some(policy) => match policy.check_shared(consumer).await {
                Ok(allowance) => Some(allowance.remaining),
                Err(Refused::Limited(Rejection {
                    policy_field,
                    retry_after,
                    ..
                })) => {
                    return Some(Err(Limit::Rate {
                        policy: policy_field,
                        retry_after,
                    }));
                }
                Err(Refused::Unavailable) => return Some(Err(Limit::Unavailable)),
            },
        };
        let quota_remaining = match &plan.quota {
            None => None,
            Some(quota) => match quota.count_shared(consumer, unix_now()).await {
                Ok(left) => Some(left),
                Err(limit) => return Some(Err(limit)),
            },
        };
        Some(Ok(Usage {
            rate_remaining,
            quota_remaining,
        }))
    }
}

impl Quota {
    /// Count one request at `now`, in Redis when shared (on failure, as
    /// `rate_limits_on_error` says), else here.
    async fn count_shared(&self, consumer: &str, now: u64) -> Result<u64, Limit> {
        let Some((shared, on_error)) = &self.shared else {
            return self.count(consumer, now);
        };
        let bounds = period_bounds(self.period, now);
        match shared.count(consumer, self.limit, bounds, now).await {
            Ok(Some(left)) => Ok(left),
            Ok(None) => Err(self.exceeded(bounds, now)),
            Err(_) => match on_error {
                RateLimitsOnError::Local => self.count(consumer, now),
                RateLimitsOnError::Deny => Err(Limit::Unavailable),
            },
        }
    }

    fn exceeded(&self, (start, end): (u64, u64), now: u64) -> Limit {
        Limit::Quota {
            policy: format!("\"{}-quota\";q={};w={}", self.name, self.limit, end - start),
            retry_after: Duration::from_secs(end - now),
        }
    }

    /// Count one request at `now` (Unix seconds): what is left, or the limit.
    fn count(&self, consumer: &str, now: u64) -> Result<u64, Limit> {
        let (start, end) = period_bounds(self.period, now);
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let entry = counts.entry(consumer.to_string()).or_insert((start, 0));
        if entry.0 != start {
            *entry = (start, 0);
        }
        if entry.1 >= self.limit {
            return Err(self.exceeded((start, end), now));
        }
        entry.1 += 1;
        Ok(self.limit - entry.1)
    }
}

/// Start and end (Unix seconds) of the UTC day or month holding `now`.
fn period_bounds(period: QuotaPeriod, now: u64) -> (u64, u64) {
    const DAY: u64 = 86_400;
    let today = now / DAY;
    match period {
        QuotaPeriod::Day => (today * DAY, (today + 1) * DAY),
        QuotaPeriod::Month => {
            let (year, month, _) = crate::calendar::civil_from_days(today as i64);
            let (next_year, next_month) = if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            };
            let start = crate::calendar::days_from_civil(year, month, 1) as u64 * DAY;
            let end = crate::calendar::days_from_civil(next_year, next_month, 1) as u64 * DAY;
            (start, end)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_days_have_their_calendar_bounds() {
        // 2024-02-29T12:00:00Z, a leap day.
        let leap_noon = 1_709_208_000;
        assert_eq!(
            period_bounds(QuotaPeriod::Day, leap_noon),
            (1_709_164_800, 1_709_251_200)
        );
        // 2024-02-01T00:00:00Z to 2024-03-01T00:00:00Z.
        assert_eq!(
            period_bounds(QuotaPeriod::Month, leap_noon),
            (1_706_745_600, 1_709_251_200)
        );
        // December rolls into the next year: 2025-12-15 → [2025-12-01, 2026-01-01).
        assert_eq!(
            period_bounds(QuotaPeriod::Month, 1_765_800_000),
            (1_764_547_200, 1_767_225_600)
        );
    }

    #[test]
    fn a_quota_refuses_past_its_limit_until_the_period_ends() {
        let quota = Quota {
            limit: 2,
            period: QuotaPeriod::Day,
            name: "basic".into(),
            counts: Mutex::new(HashMap::new()),
            shared: None,
        };
        let now = 1_709_208_000;
        assert_eq!(quota.count("acme", now), Ok(1));
        assert_eq!(quota.count("acme", now), Ok(0));
        assert_eq!(
            quota.count("acme", now),
            Err(Limit::Quota {
                policy: "\"basic-quota\";q=2;w=86400".into(),
                retry_after: Duration::from_secs(43_200),
            })
        );
        assert_eq!(quota.count("other", now), Ok(1), "per consumer");
        assert_eq!(quota.count("acme", now + 43_200), Ok(1), "a new day");
    }
}
