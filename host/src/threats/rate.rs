//! A consumer's request rate against its own moving baseline: requests are
//! counted per bucket (a minute by default); at each new bucket the last
//! one's count joins an exponentially weighted average. A bucket whose
//! count passes both `min_requests` and `factor` times the baseline is an
//! anomaly, reported once per bucket.

use std::collections::HashMap;

/// Weight of the newest bucket in the baseline.
const NEWEST_WEIGHT: f64 = 0.3;
/// Full buckets in the baseline before anything is judged anomalous.
const MIN_FULL_BUCKETS: u32 = 3;
/// Empty buckets folded in after a gap, at most.
const MAX_GAP: u64 = 16;

#[derive(Debug, Clone, Copy)]
struct Rate {
    bucket: u64,
    count: u32,
    baseline: f64,
    buckets_seen: u32,
    reported: bool,
}

/// Rates of every consumer, bounded in number.
pub struct Rates {
    rates: HashMap<String, Rate>,
    max: usize,
}

impl Rates {
    /// Track at most `max` consumers.
    pub fn new(max: usize) -> Self {
        Self {
            rates: HashMap::new(),
            max: max.max(1),
        }
    }

    /// Count a request of `consumer` in bucket `bucket`; `Some(count,
    /// baseline)` the first time the bucket is anomalous.
    pub fn count(
        &mut self,
        consumer: &str,
        bucket: u64,
        factor: f64,
        min_requests: u32,
    ) -> Option<(u32, f64)> {
        if !self.rates.contains_key(consumer) && self.rates.len() >= self.max {
            // Forget consumers idle for a while before refusing new ones.
            self.rates
                .retain(|_, r| bucket.saturating_sub(r.bucket) <= MAX_GAP);
            if self.rates.len() >= self.max {
                return None;
            }
        }
        let rate = self.rates.entry(consumer.to_string()).or_insert(Rate {
            bucket,
            count: 0,
            baseline: 0.0,
            buckets_seen: 0,
            reported: false,
        });
        if rate.bucket != bucket {
            let gap = bucket.saturating_sub(rate.bucket).min(MAX_GAP);
            let mut baseline = if rate.buckets_seen == 0 {
                f64::from(rate.count)
            } else {
                rate.baseline * (1.0 - NEWEST_WEIGHT) + f64::from(rate.count) * NEWEST_WEIGHT
            };
            for _ in 1..gap {
                baseline *= 1.0 - NEWEST_WEIGHT;
            }
            *rate = Rate {
                bucket,
                count: 0,
                baseline,
                buckets_seen: rate.buckets_seen.saturating_add(1),
                reported: false,
            };
        }
        rate.count = rate.count.saturating_add(1);
        // The first bucket was partial (the consumer was first seen in its
        // middle): judge only after three full ones.
        let anomalous = rate.buckets_seen >= MIN_FULL_BUCKETS
            && rate.count >= min_requests
            && f64::from(rate.count) > factor * rate.baseline.max(1.0);
        if anomalous && !rate.reported {
            rate.reported = true;
            return Some((rate.count, rate.baseline));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_far_above_the_baseline_is_reported_once() {
        let mut rates = Rates::new(10);
        for bucket in 0..5 {
            for _ in 0..10 {
                assert_eq!(rates.count("c", bucket, 5.0, 20), None);
            }
        }
        let mut reports = 0;
        for _ in 0..100 {
            if let Some((count, baseline)) = rates.count("c", 5, 5.0, 20) {
                reports += 1;
                assert_eq!(count, 51);
                assert!((baseline - 10.0).abs() < 0.01, "{baseline}");
            }
        }
        assert_eq!(reports, 1);
    }

    #[test]
    fn the_first_bucket_has_no_baseline_to_compare_with() {
        let mut rates = Rates::new(10);
        for _ in 0..1000 {
            assert_eq!(rates.count("new", 0, 5.0, 20), None);
        }
    }
}
