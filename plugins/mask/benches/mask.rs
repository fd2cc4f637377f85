//! What masking costs natively: a 100 KB JSON body of customer records
//! with a card number, an SSN and an e-mail address in some of them, with
//! a field path and every pattern detector on; the same records with
//! nothing to mask; the first body gzipped; and a one-line text body with
//! nothing to mask (the load scripts' upstream answer).

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_plugin_mask::codec::Coding;
use portcullis_plugin_mask::masker::{Format, Masker};

#[path = "shared/records.rs"]
mod records;
use records::records;

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
    let line = b"hello from the origin\n";
    assert!(
        masker
            .mask(Format::Text, Coding::Identity, line)
            .expect("masks")
            .is_none()
    );
    c.bench_function("mask_one_line_text_nothing_to_mask", |b| {
        b.iter(|| masker.mask(Format::Text, Coding::Identity, line))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
