//! Opaque tokens through the `jwt` plugin's RFC 7662 introspection, against
//! a real endpoint started by the test: active and inactive tokens, client
//! authentication, answers reused until the cache bound, and 503 when the
//! endpoint cannot answer.

use base64::Engine;
use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use serde_json::json;

use crate::support::client::{Reply, get_with_bearer};
use crate::support::gateway::one_route;
use crate::support::jwt::now;
use crate::support::service::{Service, header};
use crate::support::{Gateway, Origin, fixture};

const CLIENT_AUTH: &str = "gateway:gateway-secret";

/// An introspection endpoint: `opaque-good` is active for `svc-1`,
/// `opaque-other-aud` active for another audience, anything else inactive;
/// without the gateway's client credentials, 401.
async fn endpoint() -> Service {
    Service::start(|head, body| async move {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(CLIENT_AUTH)
        );
        if header(&head, "authorization") != expected || head.method != http::Method::POST {
            return Response::builder()
                .status(401)
                .body(Full::new(Bytes::from_static(b"{}")))
                .expect("response");
        }
        let form = String::from_utf8_lossy(&body).into_owned();
        let token = form
            .split('&')
            .find_map(|pair| pair.strip_prefix("token="))
            .unwrap_or_default()
            .to_string();
        let answer = match token.as_str() {
            "opaque-good" => json!({
                "active": true, "sub": "svc-1", "scope": "orders:read",
                "aud": "orders-api", "exp": now() + 600, "client_id": "svc",
            }),
            "opaque-other-aud" => json!({ "active": true, "sub": "svc-2", "aud": "billing" }),
            _ => json!({ "active": false }),
        };
        Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(answer.to_string())))
            .expect("response")
    })
    .await
}

fn gateway(origin: &Origin, endpoint: &Service, secret: &str) -> Gateway {
    let plugins = json!({
        "jwt": {
            "builtin": "jwt",
            "role": "authentication",
            "http_allow": [endpoint.origin],
            // The answer cache lives in each instance: with one instance,
            // every request of a test meets the same cache, whichever
            // instance the pool would otherwise have handed out.
            "pool": { "max": 1, "prewarm": 1 },
            "settings": {
                "introspection": {
                    "url": format!("{}/introspect", endpoint.origin),
                    "client_id": "gateway",
                    "client_secret": secret,
                    "audiences": ["orders-api"],
                },
                "required_scopes": ["orders:read"],
            },
        },
        "show-context": { "path": fixture("show-context").display().to_string() },
    });
    Gateway::start_json(&one_route(
        plugins,
        &origin.target(),
        &["jwt", "show-context"],
    ))
}

async fn with_token(gateway: &Gateway, token: &str) -> Reply {
    get_with_bearer(&gateway.url("/orders"), token).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_active_opaque_token_passes_and_its_answer_is_reused() {
    let (origin, endpoint) = (Origin::start().await, endpoint().await);
    let gateway = gateway(&origin, &endpoint, "gateway-secret");
    for _ in 0..3 {
        let reply = with_token(&gateway, "opaque-good").await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(
            reply.json()["headers"]["x-context-principal"],
            json!(["svc-1"])
        );
    }
    assert_eq!(endpoint.calls(), 1, "answers are cached");
}

#[tokio::test(flavor = "multi_thread")]
async fn inactive_and_wrong_audience_tokens_get_invalid_token() {
    let (origin, endpoint) = (Origin::start().await, endpoint().await);
    let gateway = gateway(&origin, &endpoint, "gateway-secret");
    for token in ["opaque-revoked", "opaque-other-aud"] {
        let reply = with_token(&gateway, token).await;
        assert_eq!(reply.status, 401, "{token}");
        let challenge = reply.header("www-authenticate").expect("challenge");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }
    assert_eq!(origin.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_that_cannot_answer_gets_503_not_a_pass() {
    let (origin, endpoint) = (Origin::start().await, endpoint().await);
    let gateway = gateway(&origin, &endpoint, "wrong-secret");
    let reply = with_token(&gateway, "opaque-good").await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json(), json!({ "error": "service unavailable" }));
    assert_eq!(origin.hits(), 0);
}
