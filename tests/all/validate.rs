//! The `validate` plugin through the gateway: an OpenAPI document and a
//! JSON Schema with a `$ref` to a sibling file, both read from a mount.

use serde_json::json;

use crate::support::fixtures::workspace;
use crate::support::gateway::validate;
use crate::support::{Gateway, Origin, get, send};

fn config(upstream: &str, extra: &str) -> String {
    format!(
        r#"
[plugins.validate]
builtin = "validate"
mounts = {{ api = "{examples}" }}
body_budget = 65536
over_budget = "deny"

[[routes]]
id = "pets"
path = {{ prefix = "/v1/" }}
upstream = {{ targets = ["{upstream}"] }}
[[routes.plugins]]
name = "validate"
settings = {{ openapi_file = "/api/petstore.json" }}

[[routes]]
id = "orders"
path = {{ exact = "/orders" }}
upstream = {{ targets = ["{upstream}"] }}
[[routes.plugins]]
name = "validate"
[routes.plugins.settings]
schema_file = "/api/schemas/order.json"
max_depth = 6
{extra}
"#,
        examples = workspace().join("examples/validate").display()
    )
}

fn order() -> serde_json::Value {
    json!({
        "items": [{"sku": "ABC-1234", "qty": 2}],
        "shipping": {"name": "A. Person", "street": "1 Main St", "city": "Oslo", "country": "NO"}
    })
}

async fn post_json(gateway: &Gateway, path: &str, body: &str) -> crate::support::client::Reply {
    let headers = [("content-type", "application/json"), ("x-tenant", "acme")];
    send("POST", &gateway.url(path), &headers, body.to_string()).await
}

#[tokio::test]
async fn an_openapi_document_guards_parameters_methods_and_bodies() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&config(&origin.target(), ""));
    let tenant = [("x-tenant", "acme")];

    let ok = send("GET", &gateway.url("/v1/pets?limit=5"), &tenant, "").await;
    assert_eq!(ok.status, 200, "{}", ok.text());

    let too_many = send("GET", &gateway.url("/v1/pets?limit=500"), &tenant, "").await;
    assert_eq!(too_many.status, 400);
    assert_eq!(too_many.header("content-type"), Some("application/json"));
    let error = too_many.json();
    assert_eq!(
        (
            error["in"].as_str(),
            error["field"].as_str(),
            error["rule"].as_str()
        ),
        (Some("query"), Some("limit"), Some("maximum"))
    );
    assert!(
        !too_many.text().contains("500"),
        "the value is not echoed: {}",
        too_many.text()
    );

    assert_eq!(
        get(&gateway.url("/v1/pets")).await.status,
        400,
        "missing X-Tenant header"
    );
    assert_eq!(get(&gateway.url("/v1/pets/abc")).await.status, 400);
    assert_eq!(get(&gateway.url("/v1/unknown")).await.status, 404);
    let patch = send("PATCH", &gateway.url("/v1/pets/7"), &tenant, "").await;
    assert_eq!(patch.status, 405);
    assert_eq!(patch.header("allow"), Some("GET, DELETE"));

    assert_eq!(
        post_json(&gateway, "/v1/pets", r#"{"name":"Rex","age":3}"#)
            .await
            .status,
        200
    );
    let negative = post_json(&gateway, "/v1/pets", r#"{"name":"Rex","age":-1}"#).await;
    assert_eq!(negative.status, 400);
    assert_eq!(negative.json()["field"], "/age");
    assert_eq!(negative.json()["rule"], "minimum");
    let xml = send(
        "POST",
        &gateway.url("/v1/pets"),
        &[("content-type", "application/xml"), ("x-tenant", "acme")],
        "<pet/>",
    )
    .await;
    assert_eq!(xml.status, 415);

    assert_eq!(
        origin.hits(),
        2,
        "only the valid requests reached the upstream"
    );
}

#[tokio::test]
async fn a_json_schema_with_a_sibling_ref_and_shape_limits_guards_bodies() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&config(&origin.target(), ""));

    assert_eq!(
        post_json(&gateway, "/orders", &order().to_string())
            .await
            .status,
        200
    );

    let mut bad_country = order();
    bad_country["shipping"]["country"] = json!("Norway");
    let reply = post_json(&gateway, "/orders", &bad_country.to_string()).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["field"],
        "/shipping/country",
        "the $ref'd sibling schema applies"
    );
    assert_eq!(reply.json()["rule"], "pattern");

    let deep = format!("{}{}", "[".repeat(10), "]".repeat(10));
    let reply = post_json(&gateway, "/orders", &format!(r#"{{"items": {deep}}}"#)).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["rule"], "max-depth");

    let reply = post_json(&gateway, "/orders", "{not json").await;
    assert_eq!(
        (reply.status.as_u16(), reply.json()["rule"].as_str()),
        (400, Some("json"))
    );

    let form = send(
        "POST",
        &gateway.url("/orders"),
        &[("content-type", "application/x-www-form-urlencoded")],
        "a=1",
    )
    .await;
    assert_eq!(form.status, 415);
    let empty = send(
        "POST",
        &gateway.url("/orders"),
        &[("content-type", "application/json")],
        "",
    )
    .await;
    assert_eq!(empty.status, 400);

    let mut huge = order();
    huge["items"][0]["note"] = json!("x".repeat(70_000));
    assert_eq!(
        post_json(&gateway, "/orders", &huge.to_string())
            .await
            .status,
        413
    );

    assert_eq!(origin.hits(), 1);
}

#[test]
fn a_schema_that_does_not_compile_fails_the_config_with_the_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let toml = "[server]\nlisten = \"127.0.0.1:0\"\n".to_string()
        + &config("127.0.0.1:9", "").replace(
            "schema_file = \"/api/schemas/order.json\"",
            "schema = { type = 12 }",
        );
    std::fs::write(dir.path().join("bad.toml"), toml).expect("write");
    let (code, _, stderr) = validate(dir.path(), "bad.toml");
    assert_ne!(code, 0);
    assert!(
        stderr.contains("routes[1].plugins[0]") && stderr.contains("schema:"),
        "{stderr}"
    );
}
