//! The engine's cost per request with the stock Core Rule Set at paranoia
//! level 1 in blocking mode: a typical benign 1 KB API request, and the same
//! request carrying an SQL injection. The plugin's cost on the same requests
//! is in host/benches/waf.rs.

#[path = "../tests/crs/requests.rs"]
mod requests;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_waf_engine::{EngineMode, RuleSet, Transaction};

fn run(rules: &RuleSet, (head, body): &(portcullis_waf_engine::RequestHead, Vec<u8>)) -> bool {
    let mut transaction = Transaction::new(rules, head.clone(), EngineMode::On);
    transaction.request_headers();
    transaction.request_body(body);
    transaction.interruption().is_some()
}

fn engine(c: &mut Criterion) {
    let crs = requests::crs_dir();
    let rules = requests::crs_at_pl1(&crs).expect("the CRS loads");
    let benign = requests::benign();
    let attack = requests::attack();
    assert!(!run(&rules, &benign), "the benign request passes");
    assert!(run(&rules, &attack), "the attack is blocked");
    let mut group = c.benchmark_group("waf_engine_pl1");
    group.bench_function("benign-1k", |b| b.iter(|| run(&rules, &benign)));
    group.bench_function("sqli-1k", |b| b.iter(|| run(&rules, &attack)));
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
