//! The response bodies the masking benches use (natively here, through
//! the plugin in host/benches/data_security.rs).

use serde_json::json;

/// Customer records, at least `bytes` long as JSON; with `sensitive`, an
/// e-mail address in each, an SSN in every tenth and a card number in
/// every fifth.
pub fn records(bytes: usize, sensitive: bool) -> Vec<u8> {
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
