//! What masking costs natively: a 100 KB JSON body of customer records
//! with a card number, an SSN and an e-mail address in some of them, with
//! a field path and every pattern detector on; the same records with
//! nothing to mask; and the first body gzipped.

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_plugin_mask::codec::Coding;
use portcullis_plugin_mask::masker::{Format, Masker};
use serde_json::json;

fn records(bytes: usize, sensitive: bool) -> Vec<u8> {
    let mut customers = Vec::new();
    let mut i = 0;
    loop {
        customers.push(json!({
            "id": i,
            "name": format!("Customer {i}"),
            "email": if sensitive { format!("customer{i}@example.com") } else { String::new() },
            "ssn": if sensitive && i % 10 == 0 { "123-45-6789" } else { "" },
            "card": if sensitive && i % 5 == 0 { "4111 1111 1111 1111" } else { "" },
            "created": "2026-01-15T10:00:00Z",
            "notes": "prefers delivery before noon, ring the bell twice",
            "orders": [{"sku": "ABC-1234", "qty": 2, "total": 19.99}],
        }));
        i += 1;
        let body = serde_json::to_vec(&json!({ "customers": customers })).expect("JSON");
        if body.len() >= bytes {
            return body;
        }
    }
}

fn bench(c: &mut Criterion) {
    let body = records(100 * 1024, true);
    let masker = Masker::from_json(r#"{"fields": ["$.customers[*].ssn"]}"#).expect("configures");
    assert!(
        masker
            .mask(Format::Json, Coding::Identity, &body)
            .expect("masks")
            .is_some()
    );
    c.bench_function("mask_100kb_json", |b| {
        b.iter(|| masker.mask(Format::Json, Coding::Identity, &body))
    });
    let gzip = Coding::Gzip.encode(&body);
    let clean = records(100 * 1024, false);
    assert!(
        masker
            .mask(Format::Json, Coding::Identity, &clean)
            .expect("masks")
            .is_none()
    );
    c.bench_function("mask_100kb_json_nothing_to_mask", |b| {
        b.iter(|| masker.mask(Format::Json, Coding::Identity, &clean))
    });
    c.bench_function("mask_100kb_json_gzip", |b| {
        b.iter(|| masker.mask(Format::Json, Coding::Gzip, &gzip))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
