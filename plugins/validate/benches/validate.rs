//! What validation costs natively: a 10 KB order body against the example
//! JSON Schema (with its `$ref`d address schema), and a parameter-heavy
//! OpenAPI request head.

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_plugin_validate::{Head, RequestValidator};
use serde_json::json;

#[path = "shared/orders.rs"]
mod orders;
use orders::order_body;

fn examples() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/validate");
    // `$ref`s resolve against the schema's URI, which must not hold `..`.
    std::fs::canonicalize(dir)
        .expect("examples/validate")
        .display()
        .to_string()
}

fn bench(c: &mut Criterion) {
    let order = RequestValidator::from_json(
        &json!({ "schema_file": format!("{}/schemas/order.json", examples()) }).to_string(),
    )
    .expect("configures");
    let body = order_body();
    assert!(
        (9_000..12_000).contains(&body.len()),
        "{} bytes",
        body.len()
    );
    let headers = vec![("content-type".to_string(), "application/json".to_string())];
    let head = Head {
        method: "POST",
        path: "/orders",
        query: None,
        headers: &headers,
    };
    order.check_body(&head, &body).expect("valid");
    // The floor: parsing the body, which validation has to do first.
    c.bench_function("parse_10kb_body", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(&body))
    });
    c.bench_function("validate_10kb_body", |b| {
        b.iter(|| order.check_body(&head, &body).is_ok())
    });

    let document: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}/petstore.json", examples())).expect("read"),
    )
    .expect("JSON");
    let api = RequestValidator::from_json(&json!({ "openapi": document }).to_string())
        .expect("configures");
    let headers = vec![("x-tenant".to_string(), "acme".to_string())];
    let head = Head {
        method: "GET",
        path: "/v1/pets",
        query: Some("limit=20&tags=a&tags=b"),
        headers: &headers,
    };
    api.check_head(&head).expect("valid");
    c.bench_function("validate_openapi_head", |b| {
        b.iter(|| api.check_head(&head).is_ok())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
