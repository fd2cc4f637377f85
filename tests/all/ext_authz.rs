//! The `ext-authz` plugin through the real gateway, against a real
//! authorization service started by the test: allow with headers and a
//! principal, refusals passed on, fail closed on errors, timeouts and
//! origins outside `http_allow`, and answers cached when it runs as an
//! authorizer.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use serde_json::{Value, json};

use crate::support::client::Reply;
use crate::support::gateway::one_route;
use crate::support::service::{Service, header};
use crate::support::{Gateway, Origin, fixture, send};

/// An authorization service: `Bearer good` is alice (200 with
/// `x-user-id`), `Bearer slow` answers after 2 s, `Bearer broken` gets 500,
/// `Bearer banned` 403, anything else 401 with a challenge.
async fn authorization_service() -> Service {
    Service::start(|head, _body| async move {
        let response = Response::builder();
        let response = match header(&head, "authorization").as_str() {
            "Bearer good" => response
                .status(200)
                .header("x-user-id", "alice")
                .header("x-seen-uri", header(&head, "x-original-uri"))
                .header("x-seen-method", header(&head, "x-original-method")),
            "Bearer slow" => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                response.status(200).header("x-user-id", "slow")
            }
            "Bearer broken" => response.status(500),
            "Bearer banned" => response.status(403),
            _ => response
                .status(401)
                .header("www-authenticate", "Bearer realm=\"service\""),
        };
        response.body(Full::new(Bytes::new())).expect("response")
    })
    .await
}

/// A gateway running ext-authz (as `role`, with `extra` plugin keys) then
/// show-context.
fn gateway(origin: &Origin, service: &Service, role: &str, extra: Value) -> Gateway {
    let mut plugin = json!({
        "builtin": "ext-authz",
        "role": role,
        "http_allow": [service.origin],
        "settings": {
            "url": format!("{}/check", service.origin),
            "timeout_ms": 300,
            "upstream_headers": ["x-user-id", "x-seen-uri", "x-seen-method"],
            "principal_header": "x-user-id",
        },
    });
    for (key, value) in extra.as_object().cloned().unwrap_or_default() {
        plugin[key] = value;
    }
    let plugins = json!({
        "authz": plugin,
        "show-context": { "path": fixture("show-context").display().to_string() },
    });
    Gateway::start_json(&one_route(
        plugins,
        &origin.target(),
        &["authz", "show-context"],
    ))
}

async fn with_token(gateway: &Gateway, token: &str, extra: &[(&str, &str)]) -> Reply {
    let bearer = format!("Bearer {token}");
    let mut headers = vec![("authorization", bearer.as_str())];
    headers.extend_from_slice(extra);
    send("GET", &gateway.url("/orders?id=7"), &headers, "").await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_allowed_request_carries_the_services_identity_upstream() {
    let (origin, service) = (Origin::start().await, authorization_service().await);
    let gateway = gateway(&origin, &service, "authentication", json!({}));
    let reply = with_token(&gateway, "good", &[("x-user-id", "mallory")]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = &reply.json()["headers"];
    assert_eq!(seen["x-user-id"], json!(["alice"]));
    assert_eq!(seen["x-context-principal"], json!(["alice"]));
    assert_eq!(seen["x-seen-uri"], json!(["/orders?id=7"]));
    assert_eq!(seen["x-seen-method"], json!(["GET"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_services_refusals_reach_the_client() {
    let (origin, service) = (Origin::start().await, authorization_service().await);
    let gateway = gateway(&origin, &service, "authentication", json!({}));
    let unauthorized = with_token(&gateway, "wrong", &[]).await;
    assert_eq!(unauthorized.status, 401);
    assert_eq!(
        unauthorized.header("www-authenticate"),
        Some("Bearer realm=\"service\"")
    );
    assert_eq!(unauthorized.json(), json!({ "error": "unauthorized" }));
    assert_eq!(with_token(&gateway, "banned", &[]).await.status, 403);
    assert_eq!(origin.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_and_timeouts_fail_closed() {
    let (origin, service) = (Origin::start().await, authorization_service().await);
    let gateway = gateway(&origin, &service, "authentication", json!({}));
    assert_eq!(with_token(&gateway, "broken", &[]).await.status, 403);
    let started = Instant::now();
    let slow = with_token(&gateway, "slow", &[]).await;
    assert_eq!(slow.status, 403);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "gave up at the 300 ms timeout, not after the service's 2 s"
    );
    assert_eq!(origin.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_outside_http_allow_is_never_called() {
    let (origin, service) = (Origin::start().await, authorization_service().await);
    let gateway = gateway(
        &origin,
        &service,
        "authentication",
        json!({ "http_allow": ["http://127.0.0.1:1"] }),
    );
    assert_eq!(with_token(&gateway, "good", &[]).await.status, 403);
    assert_eq!(service.calls(), 0);
    assert_eq!(origin.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn as_an_authorizer_its_answers_are_cached() {
    let (origin, service) = (Origin::start().await, authorization_service().await);
    let gateway = gateway(
        &origin,
        &service,
        "authorizer",
        json!({ "authorizer": {
            "type": "token",
            "identity_sources": ["header:authorization"],
            "ttl_s": 300,
        } }),
    );
    for _ in 0..3 {
        assert_eq!(with_token(&gateway, "good", &[]).await.status, 200);
        assert_eq!(with_token(&gateway, "wrong", &[]).await.status, 401);
    }
    assert_eq!(service.calls(), 2, "one call per identity and resource");
    assert_eq!(origin.hits(), 3);
    // The service saw the method and URI: another resource is asked again.
    let elsewhere = send(
        "DELETE",
        &gateway.url("/users"),
        &[("authorization", "Bearer good")],
        "",
    )
    .await;
    assert_eq!(elsewhere.status, 200);
    assert_eq!(service.calls(), 3);
    // A failing service is not remembered as a refusal.
    for _ in 0..2 {
        assert_eq!(with_token(&gateway, "broken", &[]).await.status, 403);
    }
    assert_eq!(service.calls(), 5);
}
