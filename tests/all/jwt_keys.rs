//! The `jwt` plugin's remote keys through the real gateway: a JWKS URL and
//! OIDC discovery served by a real HTTP server the test controls, rotation
//! on an unknown `kid`, the refresh bound, and the `http_allow` fence.

use serde_json::{Value, json};

use crate::support::client::get_with_bearer;
use crate::support::documents::Documents;
use crate::support::gateway::one_route;
use crate::support::jwt::{Signer, now};
use crate::support::{Gateway, Origin};

/// A gateway whose one route runs `jwt` with this issuer entry, allowed to
/// call `http_allow`.
fn gateway(origin: &Origin, issuer: Value, http_allow: &[String]) -> Gateway {
    let plugins = json!({
        "jwt": {
            "builtin": "jwt",
            "role": "authentication",
            "http_allow": http_allow,
            // One instance: fetches and their bounds must not depend on
            // which of several instances a request happens to get.
            "pool": { "prewarm": 1, "max": 1 },
            "settings": { "issuers": [issuer] },
        },
    });
    Gateway::start_json(&one_route(plugins, &origin.target(), &["jwt"]))
}

/// A gateway taking ES256 tokens of `issuer` with keys at `server`'s
/// `/jwks`, allowed to call `http_allow`.
fn gateway_with_jwks_url(
    origin: &Origin,
    issuer: &str,
    server: &Documents,
    http_allow: &[String],
) -> Gateway {
    gateway(
        origin,
        json!({
            "issuer": issuer,
            "algorithms": ["ES256"],
            "jwks_url": format!("{}/jwks", server.origin()),
        }),
        http_allow,
    )
}

fn token(signer: &Signer, issuer: &str) -> String {
    let now = now();
    signer.token(&json!({ "iss": issuer, "sub": "alice", "iat": now, "exp": now + 600 }))
}

async fn status(gateway: &Gateway, token: &str) -> u16 {
    get_with_bearer(&gateway.url("/orders"), token)
        .await
        .status
        .as_u16()
}

fn jwks(signers: &[&Signer]) -> Value {
    json!({ "keys": signers.iter().map(|s| s.jwk()).collect::<Vec<_>>() })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_jwks_is_fetched_again_on_an_unknown_kid_but_not_more_than_the_bound() {
    let origin = Origin::start().await;
    let server = Documents::start().await;
    let (old, new, forged) = (
        Signer::es256("old"),
        Signer::es256("new"),
        Signer::es256("forged"),
    );
    server.put("/jwks", jwks(&[&old]));
    let issuer = "https://idp.test";
    let gateway = gateway_with_jwks_url(&origin, issuer, &server, &[server.origin()]);
    assert_eq!(status(&gateway, &token(&old, issuer)).await, 200);
    let fetched_at_start = server.fetches("/jwks");
    assert!(fetched_at_start >= 1);

    // The issuer rotates: the old key is gone, a new one signs.
    server.put("/jwks", jwks(&[&new]));
    assert_eq!(status(&gateway, &token(&new, issuer)).await, 200);
    assert_eq!(server.fetches("/jwks"), fetched_at_start + 1);

    // Tokens naming keys the issuer never had are refused, and fetch the
    // set again at most once per jwks_min_refresh_s (30 s by default).
    for _ in 0..5 {
        assert_eq!(status(&gateway, &token(&forged, issuer)).await, 401);
    }
    assert_eq!(server.fetches("/jwks"), fetched_at_start + 1);
    assert_eq!(origin.hits(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_finds_the_keys_of_an_issuer_that_names_itself() {
    let origin = Origin::start().await;
    let server = Documents::start().await;
    let signer = Signer::rs256("rsa-1");
    let issuer = server.origin();
    server.put(
        "/.well-known/openid-configuration",
        json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/keys") }),
    );
    server.put("/keys", jwks(&[&signer]));
    let gateway = gateway(
        &origin,
        json!({ "issuer": issuer, "algorithms": ["RS256"], "discovery": true }),
        &[server.origin()],
    );
    assert_eq!(status(&gateway, &token(&signer, &issuer)).await, 200);
    assert_eq!(server.fetches("/.well-known/openid-configuration"), 1);
    assert_eq!(server.fetches("/keys"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_discovery_document_for_another_issuer_is_not_trusted() {
    let origin = Origin::start().await;
    let server = Documents::start().await;
    let signer = Signer::es256("k");
    let issuer = server.origin();
    server.put(
        "/.well-known/openid-configuration",
        json!({ "issuer": "https://elsewhere.test", "jwks_uri": format!("{issuer}/keys") }),
    );
    server.put("/keys", jwks(&[&signer]));
    let gateway = gateway(
        &origin,
        json!({ "issuer": issuer, "algorithms": ["ES256"], "discovery": true }),
        &[server.origin()],
    );
    assert_eq!(status(&gateway, &token(&signer, &issuer)).await, 401);
    assert_eq!(server.fetches("/keys"), 0);
    assert_eq!(origin.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_at_an_origin_outside_http_allow_are_never_fetched() {
    let origin = Origin::start().await;
    let server = Documents::start().await;
    let signer = Signer::es256("k");
    server.put("/jwks", jwks(&[&signer]));
    let issuer = "https://idp.test";
    let gateway = gateway_with_jwks_url(&origin, issuer, &server, &["https://idp.test".into()]);
    assert_eq!(status(&gateway, &token(&signer, issuer)).await, 401);
    assert_eq!(server.fetches("/jwks"), 0);
    assert_eq!(origin.hits(), 0);
}
