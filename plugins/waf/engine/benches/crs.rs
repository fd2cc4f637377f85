//! The engine's cost per request with the stock Core Rule Set at paranoia
//! level 1 in blocking mode: a typical benign 1 KB API request, and the same
//! request carrying an SQL injection. The plugin's cost on the same requests
//! is in host/benches/waf.rs.

#[path = "../tests/crs/requests.rs"]
mod requests;

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_waf_engine::{EngineMode, RuleSet, Transaction};

fn crs_at_pl1() -> RuleSet {
    let crs =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/corpora/owasp-crs-v4.28.0");
    let mut rules = RuleSet::new();
    let setup = std::fs::read_to_string(crs.join("crs-setup.conf.example")).expect("setup");
    rules
        .add("crs-setup", &setup, &crs.join("rules"))
        .expect("setup loads");
    rules
        .add(
            "settings",
            r#"SecAction "id:9990001,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level=1""#,
            &crs.join("rules"),
        )
        .expect("settings load");
    rules.add_dir(&crs.join("rules")).expect("rules load");
    rules.finish().expect("phases");
    rules
}

fn run(rules: &RuleSet, (head, body): &(portcullis_waf_engine::RequestHead, Vec<u8>)) -> bool {
    let mut transaction = Transaction::new(rules, head.clone(), EngineMode::On);
    transaction.request_headers();
    transaction.request_body(body);
    transaction.interruption().is_some()
}

fn engine(c: &mut Criterion) {
    let rules = crs_at_pl1();
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
