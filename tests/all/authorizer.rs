//! Lambda-style custom authorizers through the real gateway: identity
//! sources checked before any call, decisions cached by the host (counted
//! by an authorizer that numbers its calls), resource-specific decisions
//! cached per method and path. The examples in `examples/authorizers/` are
//! run in `authorizer_languages`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::client::Reply;
use crate::support::gateway::one_route;
use crate::support::{Gateway, Origin, fixture, send};

/// A gateway whose one route runs `plugin` as an authorizer with this
/// `[authorizer]` table and `settings`.
fn gateway(origin: &Origin, path: &std::path::Path, authorizer: Value, settings: Value) -> Gateway {
    let plugins = json!({
        "auth": {
            "path": path.display().to_string(),
            "role": "authorizer",
            "capabilities": ["kv"],
            "authorizer": authorizer,
            "settings": settings,
        },
    });
    Gateway::start_json(&one_route(plugins, &origin.target(), &["auth"]))
}

/// The counting authorizer, keyed by `authorization`, its `call` entry
/// sent upstream as `x-call`.
fn counting(origin: &Origin, ttl_s: u64) -> Gateway {
    gateway(
        origin,
        &fixture("counting-authorizer"),
        json!({
            "type": "token",
            "identity_sources": ["header:authorization"],
            "ttl_s": ttl_s,
            "context_headers": { "call": "x-call" },
        }),
        json!({}),
    )
}

async fn request(gateway: &Gateway, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    send(method, &gateway.url(path), headers, "").await
}

/// The authorizer call that made the decision the upstream saw.
fn call_seen_upstream(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["headers"]["x-call"][0]
        .as_str()
        .expect("x-call header upstream")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_identity_is_answered_from_the_cache() {
    let origin = Origin::start().await;
    let gateway = counting(&origin, 300);
    let alice = [("authorization", "alice")];
    let first = request(&gateway, "GET", "/orders", &alice).await;
    assert_eq!(call_seen_upstream(&first), "1");
    let second = request(&gateway, "GET", "/orders", &alice).await;
    assert_eq!(call_seen_upstream(&second), "1", "cached: no second call");
    let bob = request(&gateway, "GET", "/orders", &[("authorization", "bob")]).await;
    assert_eq!(call_seen_upstream(&bob), "2");
    // The same identity on another resource: the decision was not
    // resource-specific, so it is reused.
    let elsewhere = request(&gateway, "DELETE", "/users", &alice).await;
    assert_eq!(call_seen_upstream(&elsewhere), "1");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_identity_source_gets_401_without_a_call() {
    let origin = Origin::start().await;
    let gateway = counting(&origin, 300);
    let refused = request(&gateway, "GET", "/orders", &[]).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json(), json!({ "error": "unauthorized" }));
    let empty = request(&gateway, "GET", "/orders", &[("authorization", "")]).await;
    assert_eq!(empty.status, 401);
    // Two values: the cache key and the authorizer could read different ones.
    let twice = [("authorization", "alice"), ("authorization", "bob")];
    assert_eq!(
        request(&gateway, "GET", "/orders", &twice).await.status,
        401
    );
    assert_eq!(origin.hits(), 0);
    let first_call = request(&gateway, "GET", "/orders", &[("authorization", "alice")]).await;
    assert_eq!(call_seen_upstream(&first_call), "1");
}

#[tokio::test(flavor = "multi_thread")]
async fn denials_are_cached_too() {
    let origin = Origin::start().await;
    let gateway = counting(&origin, 300);
    for _ in 0..3 {
        let denied = request(&gateway, "GET", "/orders", &[("authorization", "deny")]).await;
        assert_eq!(denied.status, 403);
        assert_eq!(denied.json(), json!({ "error": "forbidden" }));
    }
    let next = request(&gateway, "GET", "/orders", &[("authorization", "alice")]).await;
    assert_eq!(call_seen_upstream(&next), "2", "one call for three denials");
    assert_eq!(origin.hits(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decision_is_asked_again_once_its_ttl_has_passed() {
    let origin = Origin::start().await;
    let gateway = counting(&origin, 1);
    let alice = [("authorization", "alice")];
    let started = Instant::now();
    assert_eq!(
        call_seen_upstream(&request(&gateway, "GET", "/orders", &alice).await),
        "1"
    );
    let mut call = "1".to_string();
    while call == "1" && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        call = call_seen_upstream(&request(&gateway, "GET", "/orders", &alice).await);
    }
    assert_eq!(call, "2", "asked again after the TTL");
    assert!(started.elapsed() >= Duration::from_secs(1), "not before it");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resource_specific_decision_is_cached_per_method_and_path() {
    let origin = Origin::start().await;
    let gateway = counting(&origin, 300);
    let headers = [("authorization", "alice"), ("x-resource-specific", "yes")];
    let call = |reply: Reply| call_seen_upstream(&reply);
    assert_eq!(
        call(request(&gateway, "GET", "/orders", &headers).await),
        "1"
    );
    assert_eq!(
        call(request(&gateway, "GET", "/orders", &headers).await),
        "1"
    );
    assert_eq!(
        call(request(&gateway, "POST", "/orders", &headers).await),
        "2"
    );
    assert_eq!(
        call(request(&gateway, "GET", "/users", &headers).await),
        "3"
    );
    assert_eq!(
        call(request(&gateway, "POST", "/orders", &headers).await),
        "2"
    );
    // The query is part of the resource.
    assert_eq!(
        call(request(&gateway, "GET", "/orders?id=2", &headers).await),
        "4"
    );
    assert_eq!(
        call(request(&gateway, "GET", "/orders?id=2", &headers).await),
        "4"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_context_header_cannot_be_sent_by_the_client() {
    let origin = Origin::start().await;
    let gateway = counting(&origin, 300);
    let reply = request(
        &gateway,
        "GET",
        "/orders",
        &[("authorization", "alice"), ("x-call", "999")],
    )
    .await;
    assert_eq!(call_seen_upstream(&reply), "1");
    assert_eq!(reply.json()["headers"]["x-call"], json!(["1"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_skipped_authorizer_leaves_no_client_sent_context_header() {
    let origin = Origin::start().await;
    let plugins = json!({
        "auth": {
            "path": fixture("misbehave").display().to_string(),
            "role": "authorizer",
            "on_error": "allow",
            "allow_unauthenticated_on_error": true,
            "authorizer": {
                "type": "token",
                "identity_sources": ["header:x-misbehave"],
                "context_headers": { "tenant": "x-tenant" },
            },
        },
    });
    let gateway = Gateway::start_json(&one_route(plugins, &origin.target(), &["auth"]));
    // A trap and an unusable denial: both fail open, as configured.
    for failure in ["trap", "bad-status"] {
        let headers = [("x-misbehave", failure), ("x-tenant", "forged")];
        let reply = request(&gateway, "GET", "/orders", &headers).await;
        assert_eq!(reply.status, 200, "{failure}: {}", reply.text());
        assert!(
            reply.json()["headers"].get("x-tenant").is_none(),
            "{failure}: the forged header reached the upstream"
        );
    }
}
