//! The request body the validation benches send (natively here, through
//! the plugin in host/benches/data_security.rs).

use serde_json::json;

/// An order of about 10 KB: 95 lines with longer notes.
pub fn order_body() -> Vec<u8> {
    let items: Vec<_> = (0..95)
        .map(|i| json!({"sku": format!("ABC-{:04}", i), "qty": i % 9 + 1, "note": "gift wrap, leave at the door please, ring twice and wait a minute or two"}))
        .collect();
    let address = json!({"name": "A. Person", "street": "1 Main St", "city": "Oslo", "postcode": "0150", "country": "NO"});
    serde_json::to_vec(
        &json!({"items": items, "shipping": address, "billing": address, "coupon": null}),
    )
    .expect("JSON")
}
