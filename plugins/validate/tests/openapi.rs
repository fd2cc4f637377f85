//! The example OpenAPI document (examples/validate/petstore.json) through
//! the plugin's checks: operations, parameters of every location, bodies.

use portcullis_plugin_validate::{Head, RequestValidator};
use serde_json::json;

fn petstore() -> RequestValidator {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/validate/petstore.json"
    );
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("JSON");
    RequestValidator::from_json(&json!({ "openapi": document }).to_string()).expect("configures")
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// (status, in, field, rule) of the head check, or None when it passes.
fn head(
    api: &RequestValidator,
    method: &str,
    target: &str,
    pairs: &[(&str, &str)],
) -> Option<(u16, String, String, String)> {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let headers = headers(pairs);
    let head = Head {
        method,
        path,
        query,
        headers: &headers,
    };
    api.check_head(&head)
        .err()
        .map(|v| (v.status, v.location.to_string(), v.field, v.rule))
}

fn body(
    api: &RequestValidator,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> Option<(u16, String, String)> {
    let headers = headers(&[("content-type", content_type), ("x-tenant", "acme")]);
    let head = Head {
        method,
        path,
        query: None,
        headers: &headers,
    };
    api.check_body(&head, body.as_bytes())
        .err()
        .map(|v| (v.status, v.field, v.rule))
}

#[test]
fn operations_are_found_by_path_and_method_under_the_server_path() {
    let api = petstore();
    let tenant = [("x-tenant", "acme")];
    assert_eq!(head(&api, "GET", "/v1/pets", &tenant), None);
    assert_eq!(
        head(&api, "GET", "/v1/pets/mine", &[]),
        None,
        "the concrete path wins over /pets/{{petId}}"
    );
    assert_eq!(
        head(&api, "GET", "/pets", &tenant).map(|v| v.0),
        Some(404),
        "outside the server path"
    );
    assert_eq!(
        head(&api, "GET", "/v1/owners", &tenant).map(|v| v.0),
        Some(404)
    );
    assert_eq!(
        head(&api, "PATCH", "/v1/pets/7", &tenant).map(|v| v.0),
        Some(405)
    );
}

#[test]
fn parameters_are_coerced_and_checked_in_every_location() {
    let api = petstore();
    let tenant = [("x-tenant", "acme")];
    assert_eq!(
        head(&api, "GET", "/v1/pets?limit=20&tags=a&tags=b", &tenant),
        None
    );
    assert_eq!(
        head(&api, "GET", "/v1/pets?limit=500", &tenant),
        Some((400, "query".into(), "limit".into(), "maximum".into()))
    );
    assert_eq!(
        head(&api, "GET", "/v1/pets?limit=ten", &tenant),
        Some((400, "query".into(), "limit".into(), "type".into()))
    );
    assert_eq!(
        head(&api, "GET", "/v1/pets?limit=1&limit=2", &tenant),
        Some((400, "query".into(), "limit".into(), "repeated".into()))
    );
    let long = format!("/v1/pets?tags=ok&tags={}", "x".repeat(21));
    assert_eq!(
        head(&api, "GET", &long, &tenant),
        Some((400, "query".into(), "tags/1".into(), "maxLength".into()))
    );
    assert_eq!(
        head(&api, "GET", "/v1/pets/0", &[]),
        Some((400, "path".into(), "petId".into(), "minimum".into()))
    );
    assert_eq!(
        head(&api, "GET", "/v1/pets/abc", &[]),
        Some((400, "path".into(), "petId".into(), "type".into()))
    );
    assert_eq!(
        head(&api, "GET", "/v1/pets", &[]),
        Some((400, "header".into(), "X-Tenant".into(), "required".into()))
    );
    assert_eq!(
        head(&api, "DELETE", "/v1/pets/3", &[("x-tenant", "NO SPACES")]),
        Some((400, "header".into(), "X-Tenant".into(), "pattern".into()))
    );
}

#[test]
fn bodies_need_an_accepted_content_type_and_must_match_the_schema() {
    let api = petstore();
    let json_post = [
        ("x-tenant", "acme"),
        ("content-type", "application/json"),
        ("content-length", "10"),
    ];
    assert_eq!(head(&api, "POST", "/v1/pets", &json_post), None);
    let xml_post = [
        ("x-tenant", "acme"),
        ("content-type", "application/xml"),
        ("content-length", "10"),
    ];
    assert_eq!(
        head(&api, "POST", "/v1/pets", &xml_post).map(|v| v.0),
        Some(415)
    );
    let png = [("content-type", "image/png"), ("content-length", "10")];
    assert_eq!(head(&api, "PUT", "/v1/pets/4/photo", &png), None);

    let json = "application/json";
    assert_eq!(
        body(
            &api,
            "POST",
            "/v1/pets",
            json,
            r#"{"name":"Rex","tag":null,"age":3}"#
        ),
        None
    );
    assert_eq!(
        body(&api, "POST", "/v1/pets", json, r#"{"tag":"dog"}"#),
        Some((400, "".into(), "required".into()))
    );
    assert_eq!(
        body(&api, "POST", "/v1/pets", json, r#"{"name":"Rex","age":-1}"#),
        Some((400, "/age".into(), "minimum".into()))
    );
    assert_eq!(
        body(
            &api,
            "POST",
            "/v1/pets",
            json,
            r#"{"name":"Rex","colour":"red"}"#
        ),
        Some((400, "".into(), "additionalProperties".into()))
    );
    assert_eq!(
        body(
            &api,
            "POST",
            "/v1/pets",
            json,
            r#"{"name":"Rex","owner":{}}"#
        ),
        Some((400, "/owner".into(), "required".into()))
    );
    assert_eq!(
        body(&api, "POST", "/v1/pets", json, r#"{"name":"#),
        Some((400, "".into(), "json".into()))
    );
    assert_eq!(
        body(&api, "POST", "/v1/pets", json, ""),
        Some((400, "".into(), "required".into()))
    );
    assert_eq!(
        body(&api, "PUT", "/v1/pets/4/photo", "image/png", "\u{89}PNG"),
        None,
        "no schema for images"
    );
}

#[test]
fn paths_are_matched_in_normal_form_and_odd_spellings_are_refused() {
    let api = petstore();
    let tenant = [("x-tenant", "acme")];
    assert_eq!(
        head(&api, "GET", "/v1/%70ets?limit=500", &tenant).map(|v| v.3),
        Some("maximum".into()),
        "an encoded letter is the same path"
    );
    for odd in [
        "/v1/pets/../admin",
        "/v1/./pets",
        "/v1/pets%2F7",
        "/v1//pets",
        "/v1/pets/%2e%2e/x",
        "/v1\\pets",
    ] {
        assert_eq!(
            head(&api, "GET", odd, &tenant).map(|v| (v.0, v.3)),
            Some((400, "normal-form".into())),
            "{odd}"
        );
    }
}

#[test]
fn a_body_that_did_not_announce_itself_still_needs_an_accepted_type() {
    let api = petstore();
    // HTTP/2 without Content-Length: the head check cannot see the body.
    assert_eq!(
        head(
            &api,
            "POST",
            "/v1/pets",
            &[("x-tenant", "acme"), ("content-type", "text/plain")]
        ),
        None
    );
    assert_eq!(
        body(&api, "POST", "/v1/pets", "text/plain", r#"{"name": 5}"#).map(|v| v.0),
        Some(415)
    );
    let duplicate = body(
        &api,
        "POST",
        "/v1/pets",
        "application/json",
        r#"{"name": "Rex", "name": 5}"#,
    );
    assert_eq!(duplicate.map(|v| v.2), Some("duplicate-key".into()));
}
