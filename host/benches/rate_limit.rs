//! The cost of one keyed rate-limit check (governor GCRA, dashmap state,
//! key formatting included), over a working set of 10,000 client keys.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_host::config::RateLimitConfig;
use portcullis_host::ratelimit::Policy;

fn keyed_check(c: &mut Criterion) {
    let config = RateLimitConfig {
        key: "ip".into(),
        requests: 1_000_000,
        per_seconds: 1,
        burst: None,
        max_keys: 100_000,
    };
    let policy = Arc::new(Policy::new("bench", &config).expect("valid policy"));
    let keys: Vec<String> = (0..10_000u32)
        .map(|i| std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string())
        .collect();
    let mut i = 0;
    c.bench_function("rate_limit_check/ip_key", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(policy.check(&keys[i]).is_ok())
        })
    });
}

criterion_group!(benches, keyed_check);
criterion_main!(benches);
