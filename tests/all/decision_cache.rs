//! Decisions a plugin says may be given again (`decision-cache`), through
//! the real gateway: a repeated request is answered without a call, one
//! that differs where the plugin looked gets its own call (in the response
//! phase too), a kept grant ends when its token expires, and a call with a
//! side effect is never kept.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::runtime_admin::{admin, admin_table};
use crate::support::jwt::{Signer, now};
use crate::support::{Gateway, Origin, fixture, send};

const ISSUER: &str = "https://idp.test";

fn start(config: &Value) -> Gateway {
    let toml = toml::to_string(config).expect("config as TOML");
    Gateway::start(&format!("{toml}\n{}", admin_table()))
}

/// The admin API's counts for `plugin`.
async fn stats(gateway: &Gateway, plugin: &str) -> Value {
    admin(gateway, "GET", &format!("/plugins/{plugin}"), "")
        .await
        .json()["stats"]
        .clone()
}

fn bearer(signer: &Signer, sub: &str, scope: &str, expires_in: u64) -> String {
    let claims = json!({ "iss": ISSUER, "sub": sub, "scope": scope, "exp": now() + expires_in });
    format!("Bearer {}", signer.token(&claims))
}

/// `jwt` (with `jwt_settings` added) then `rbac` then `show-context`.
fn identity_gateway(origin: &Origin, signer: &Signer, jwt_settings: Value) -> Gateway {
    let mut settings = json!({
        "issuers": [{ "issuer": ISSUER, "algorithms": [signer.alg],
                      "jwks": { "keys": [signer.jwk()] } }],
    });
    for (key, value) in jwt_settings.as_object().cloned().unwrap_or_default() {
        settings[key] = value;
    }
    start(&json!({
        "plugins": {
            "jwt": { "builtin": "jwt", "role": "authentication", "settings": settings },
            "rbac": { "builtin": "rbac", "settings": { "rules": [
                { "methods": ["GET"], "paths": ["/orders/**"], "scopes": ["orders:read"] },
            ]}},
            "show-context": { "path": fixture("show-context").display().to_string() },
        },
        "routes": [{
            "id": "api", "path": { "prefix": "/" },
            "upstream": { "targets": [origin.target()] },
            "plugins": [{ "name": "jwt" }, { "name": "rbac" }, { "name": "show-context" }],
        }],
    }))
}

/// One route sending everything to `origin` through the `reusable`
/// fixture with these `settings`.
fn reusable_gateway(origin: &Origin, settings: Value) -> Gateway {
    let reusable = fixture("reusable").display().to_string();
    start(&json!({
        "plugins": { "reusable": { "path": reusable,
                                   "capabilities": ["decision-cache", "log", "kv"] } },
        "routes": [{ "id": "api", "path": { "prefix": "/" },
                     "upstream": { "targets": [origin.target()] },
                     "plugins": [{ "name": "reusable", "settings": settings }] }],
    }))
}

/// Status and the principal the upstream was told, for `GET path`.
async fn get(gateway: &Gateway, path: &str, authorization: Option<&str>) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = authorization
        .map(|value| ("authorization", value))
        .into_iter()
        .collect();
    let reply = send("GET", &gateway.url(path), &headers, "").await;
    let status = reply.status.as_u16();
    let principal = match status {
        200 => reply.json()["headers"]["x-context-principal"].clone(),
        _ => Value::Null,
    };
    (status, principal)
}

#[tokio::test(flavor = "multi_thread")]
async fn jwt_and_rbac_decisions_are_given_again_for_the_same_request_only() {
    let origin = Origin::start().await;
    let signer = Signer::es256("k1");
    let gateway = identity_gateway(&origin, &signer, json!({}));
    let alice = bearer(&signer, "alice", "orders:read", 600);
    let bob = bearer(&signer, "bob", "orders:read", 600);
    let carol = bearer(&signer, "carol", "", 600);

    let reader = json!(["alice"]);
    assert_eq!(
        get(&gateway, "/orders/1", Some(&alice)).await,
        (200, reader.clone())
    );
    assert_eq!(
        get(&gateway, "/orders/1", Some(&alice)).await,
        (200, reader)
    );
    let (jwt, rbac) = (stats(&gateway, "jwt").await, stats(&gateway, "rbac").await);
    assert_eq!(
        (&jwt["calls"], &jwt["decisions_reused"]),
        (&json!(1), &json!(1)),
        "{jwt}"
    );
    assert_eq!(
        (&rbac["calls"], &rbac["decisions_reused"]),
        (&json!(1), &json!(1)),
        "{rbac}"
    );

    // Another token is another request for `jwt`; for `rbac`, which reads
    // the principal, another identity too.
    assert_eq!(
        get(&gateway, "/orders/1", Some(&bob)).await,
        (200, json!(["bob"]))
    );
    assert_eq!(
        get(&gateway, "/orders/2", Some(&alice)).await,
        (200, json!(["alice"]))
    );
    assert_eq!(get(&gateway, "/orders/1", Some(&carol)).await.0, 403);
    assert_eq!(get(&gateway, "/orders/1", Some(&carol)).await.0, 403);
    assert_eq!(get(&gateway, "/orders/1", None).await.0, 401);
    let (jwt, rbac) = (stats(&gateway, "jwt").await, stats(&gateway, "rbac").await);
    // jwt: alice, bob, carol and the missing token called; alice's second
    // path and carol's repeat were given again.
    assert_eq!(
        (&jwt["calls"], &jwt["decisions_reused"]),
        (&json!(4), &json!(3)),
        "{jwt}"
    );
    // rbac: alice /orders/1, bob, alice /orders/2, carol; carol's repeat
    // given again. The missing token never reached it.
    assert_eq!(
        (&rbac["calls"], &rbac["decisions_reused"]),
        (&json!(4), &json!(2)),
        "{rbac}"
    );
    assert_eq!(origin.hits(), 4);
    let metrics = admin(&gateway, "GET", "/metrics", "").await.text();
    for expected in [
        "portcullis_plugin_decisions_reused_total{plugin=\"jwt\"} 3",
        "portcullis_plugin_decisions_reused_total{plugin=\"rbac\"} 2",
    ] {
        assert!(metrics.contains(expected), "{expected} in\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_given_again_ends_when_its_token_expires() {
    let origin = Origin::start().await;
    let signer = Signer::es256("k1");
    let gateway = identity_gateway(&origin, &signer, json!({ "leeway_s": 0 }));
    let short = bearer(&signer, "alice", "orders:read", 2);

    assert_eq!(get(&gateway, "/orders/1", Some(&short)).await.0, 200);
    assert_eq!(get(&gateway, "/orders/1", Some(&short)).await.0, 200);
    assert_eq!(stats(&gateway, "jwt").await["decisions_reused"], 1);
    let started = Instant::now();
    loop {
        let status = get(&gateway, "/orders/1", Some(&short)).await.0;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the expired token was still let through"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn only_calls_without_side_effects_are_given_again() {
    let origin = Origin::start().await;
    let reusable = fixture("reusable").display().to_string();
    // Every one may use what the fixture imports; only what a call uses
    // keeps its decision from being given again.
    let plugin = |also: &str, entries: u64| {
        json!({ "path": reusable, "capabilities": ["decision-cache", "log", "kv"],
                "decision_cache_entries": entries, "settings": { "also": also } })
    };
    let route = |name: &str| {
        json!({ "id": name, "path": { "prefix": format!("/{name}") },
                "upstream": { "targets": [origin.target()] },
                "plugins": [{ "name": name }] })
    };
    let names = ["plain", "log", "kv", "request-id", "off"];
    let gateway = start(&json!({
        "plugins": {
            "plain": plugin("", 100),
            "log": plugin("log", 100),
            "kv": plugin("kv", 100),
            "request-id": plugin("request-id", 100),
            "off": plugin("", 0),
        },
        "routes": names.map(route),
    }));

    for name in names {
        for user in ["ann", "ann", "ben"] {
            let reply = send(
                "GET",
                &gateway.url(&format!("/{name}")),
                &[("x-user", user)],
                "",
            )
            .await;
            assert_eq!(reply.status, 200, "{name}");
            assert_eq!(
                reply.json()["headers"]["x-seen-user"],
                json!([user]),
                "{name}"
            );
        }
        let counts = stats(&gateway, name).await;
        // "plain": ann's request, then ben's, called; the first response
        // called, the two alike given again.
        let expected = if name == "plain" { (3, 3) } else { (6, 0) };
        assert_eq!(
            (&counts["calls"], &counts["decisions_reused"]),
            (&json!(expected.0), &json!(expected.1)),
            "{name}: {counts}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn response_decisions_are_given_again_for_the_same_response_only() {
    let origin = Origin::start().await;
    let gateway = reusable_gateway(&origin, json!({}));
    // The origin describes a request in JSON, and answers `/bytes/N`
    // without a content type.
    for (path, kind) in [
        ("/inspect", "application/json"),
        ("/bytes/3", ""),
        ("/inspect", "application/json"),
        ("/bytes/3", ""),
    ] {
        let reply = send("GET", &gateway.url(path), &[], "").await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("x-seen-type"), Some(kind), "{path}");
    }
    let counts = stats(&gateway, "reusable").await;
    // One request call, given again three times; one response call for
    // each kind of response, each given again once.
    assert_eq!(
        (&counts["calls"], &counts["decisions_reused"]),
        (&json!(3), &json!(5)),
        "{counts}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kept_response_edits_change_the_upstreams_fields_as_the_call_did() {
    let origin = Origin::start().await;
    let gateway = start(&json!({
        "plugins": {
            "security": { "builtin": "headers", "settings": { "response": {
                "remove": ["server"],
                "set": { "content-type": "text/plain", "x-frame-options": "DENY" },
                "add": { "x-origin-kept": "2" },
            }}},
            "tag": { "builtin": "headers", "settings": { "response": {
                "add": { "x-origin-kept": "3", "x-frame-options": "SAMEORIGIN" },
            }}},
        },
        "routes": [{ "id": "api", "path": { "prefix": "/" },
                     "upstream": { "targets": [origin.target()] },
                     "plugins": [{ "name": "security" }, { "name": "tag" }] }],
    }));
    // Response phases run in reverse: `tag`, then `security`. The origin
    // answers `/hop` with `x-origin-kept: 1` and anything else with
    // `server` and a JSON content type.
    for (path, kept) in [
        ("/hop", vec!["1", "3", "2"]),
        ("/inspect", vec!["3", "2"]),
        ("/hop", vec!["1", "3", "2"]),
        ("/inspect", vec!["3", "2"]),
    ] {
        let reply = send("GET", &gateway.url(path), &[], "").await;
        assert_eq!(reply.status, 200, "{path}");
        let all = |name: &str| -> Vec<&str> {
            reply
                .headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().expect("text"))
                .collect()
        };
        assert_eq!(all("x-origin-kept"), kept, "{path}");
        assert_eq!(all("x-frame-options"), ["DENY"], "{path}");
        assert_eq!(all("content-type"), ["text/plain"], "{path}");
        assert!(all("server").is_empty(), "{path}");
        assert_eq!(all("x-request-id").len(), 1, "{path}");
    }
    for plugin in ["security", "tag"] {
        let counts = stats(&gateway, plugin).await;
        // Each phase called for the first request, given again after.
        assert_eq!(
            (&counts["calls"], &counts["decisions_reused"]),
            (&json!(2), &json!(6)),
            "{plugin}: {counts}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_decision_kept_under_the_requests_headers_sees_them() {
    let origin = Origin::start().await;
    let gateway = reusable_gateway(&origin, json!({ "response": "user" }));
    // The response phase reads the request's `x-user`: the gateway keeps
    // the request's headers for it, kept decision or not.
    for user in ["alice", "bob", "alice", "bob"] {
        let reply = send("GET", &gateway.url("/inspect"), &[("x-user", user)], "").await;
        assert_eq!(reply.status, 200, "{user}");
        assert_eq!(reply.header("x-seen-user"), Some(user));
        assert_eq!(reply.json()["headers"]["x-seen-user"][0], user);
    }
    let counts = stats(&gateway, "reusable").await;
    // Each phase called once per user, given again once per user.
    assert_eq!(
        (&counts["calls"], &counts["decisions_reused"]),
        (&json!(4), &json!(4)),
        "{counts}"
    );
}
