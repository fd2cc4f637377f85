//! `jwt` then `rbac` through the real gateway: who may do what is decided
//! by the identity in the token; shadow mode only logs.

use serde_json::{Value, json};

use crate::support::jwt::{Signer, now};
use crate::support::{Gateway, Origin, send};

const ISSUER: &str = "https://idp.test";

fn gateway(origin: &Origin, signer: &Signer, shadow: bool) -> Gateway {
    let config = json!({
        "plugins": {
            "jwt": { "builtin": "jwt", "role": "authentication", "settings": {
                "issuers": [{ "issuer": ISSUER, "algorithms": [signer.alg],
                              "jwks": { "keys": [signer.jwk()] } }],
                "roles_claim": "roles",
            }},
            "rbac": { "builtin": "rbac", "capabilities": ["log"], "settings": {
                "shadow": shadow,
                "rules": [
                    { "methods": ["GET"], "paths": ["/orders/**"], "scopes": ["orders:read"] },
                    { "methods": ["DELETE"], "paths": ["/orders/{id}"], "roles": ["admin"] },
                    { "effect": "deny", "paths": ["/orders/**"], "roles": ["suspended"] },
                ],
            }},
        },
        "routes": [{
            "id": "api", "path": { "prefix": "/" },
            "upstream": { "targets": [origin.target()] },
            "plugins": [{ "name": "jwt" }, { "name": "rbac" }],
        }],
    });
    Gateway::start(&toml::to_string(&config).expect("TOML"))
}

fn token(signer: &Signer, scope: &str, roles: &[&str]) -> String {
    let now = now();
    let claims: Value = json!({ "iss": ISSUER, "sub": "user", "exp": now + 600,
                                "scope": scope, "roles": roles });
    format!("Bearer {}", signer.token(&claims))
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_decide_on_the_identity_in_the_token() {
    let origin = Origin::start().await;
    let signer = Signer::es256("k1");
    let gateway = gateway(&origin, &signer, false);
    let reader = token(&signer, "orders:read", &[]);
    let admin = token(&signer, "", &["admin"]);
    let suspended = token(&signer, "orders:read", &["admin", "suspended"]);

    let cases = [
        ("GET", "/orders/7", reader.as_str(), 200),
        ("DELETE", "/orders/7", reader.as_str(), 403),
        ("DELETE", "/orders/7", admin.as_str(), 200),
        ("GET", "/orders/7", admin.as_str(), 403),
        ("GET", "/orders/7", suspended.as_str(), 403),
        ("DELETE", "/orders/7", suspended.as_str(), 403),
        ("GET", "/elsewhere", reader.as_str(), 403),
    ];
    for (method, path, authorization, status) in cases {
        let reply = send(
            method,
            &gateway.url(path),
            &[("authorization", authorization)],
            "",
        )
        .await;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.text());
    }
    assert_eq!(origin.hits(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn shadow_mode_logs_what_it_would_deny_and_lets_it_through() {
    let origin = Origin::start().await;
    let signer = Signer::es256("k1");
    let gateway = gateway(&origin, &signer, true);
    let reader = token(&signer, "orders:read", &[]);

    let reply = send(
        "DELETE",
        &gateway.url("/orders/7"),
        &[("authorization", &reader)],
        "",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(
        gateway.wait_for_log(|line| line.contains("rbac shadow mode: would deny DELETE /orders/7"))
    );
}
