//! The `jwt` plugin through the real gateway: tokens signed at test time by
//! an independent implementation (ring), attacks from the JWT literature,
//! RFC 6750 refusals, the context handed to later plugins.

use serde_json::{Value, json};

use crate::support::jwt::{Signer, b64, hs256, now};
use crate::support::{Gateway, Origin, fixture, send};

const ISSUER: &str = "https://idp.test";

/// A gateway whose one route runs `jwt` (with `settings` over defaults
/// naming ISSUER and the signers' keys) then `show-context`.
fn gateway(origin: &Origin, signers: &[&Signer], settings: Value) -> Gateway {
    let keys: Vec<Value> = signers.iter().map(|s| s.jwk()).collect();
    let algorithms: Vec<&str> = signers.iter().map(|s| s.alg).collect();
    let mut merged = json!({
        "issuers": [{
            "issuer": ISSUER,
            "audiences": ["orders-api"],
            "algorithms": algorithms,
            "jwks": { "keys": keys },
        }],
    });
    for (key, value) in settings.as_object().cloned().unwrap_or_default() {
        merged[key] = value;
    }
    let config = json!({
        "plugins": {
            "jwt": { "builtin": "jwt", "role": "authentication", "settings": merged },
            "show-context": { "path": fixture("show-context").display().to_string() },
        },
        "routes": [{
            "id": "api",
            "path": { "prefix": "/" },
            "upstream": { "targets": [origin.target()] },
            "plugins": [{ "name": "jwt" }, { "name": "show-context" }],
        }],
    });
    Gateway::start(&toml::to_string(&config).expect("config as TOML"))
}

/// Claims that pass every check, for `sub`.
fn good_claims(sub: &str) -> Value {
    let now = now();
    json!({
        "iss": ISSUER, "aud": "orders-api", "sub": sub,
        "iat": now, "nbf": now - 5, "exp": now + 600,
        "scope": "orders:read orders:write",
        "realm_access": { "roles": ["clerk"] },
        "tenant": "acme",
    })
}

async fn get_with(gateway: &Gateway, headers: &[(&str, &str)]) -> crate::support::client::Reply {
    send("GET", &gateway.url("/orders"), headers, "").await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test(flavor = "multi_thread")]
async fn valid_tokens_of_each_algorithm_reach_the_upstream_with_their_identity() {
    let origin = Origin::start().await;
    let (es, rs, ed) = (
        Signer::es256("ec-1"),
        Signer::rs256("rsa-1"),
        Signer::eddsa("ed-1"),
    );
    let gateway = gateway(
        &origin,
        &[&es, &rs, &ed],
        json!({
            "roles_claim": "realm_access.roles",
            "forward_claims": { "sub": "x-user-id" },
            "strip_token": true,
        }),
    );

    for signer in [&es, &rs, &ed] {
        let token = signer.token(&good_claims("alice"));
        let reply = get_with(
            &gateway,
            &[("authorization", &bearer(&token)), ("x-user-id", "mallory")],
        )
        .await;
        assert_eq!(reply.status, 200, "{}: {}", signer.alg, reply.text());
        let seen = reply.json()["headers"].clone();
        assert_eq!(seen["x-user-id"], json!(["alice"]), "{}", signer.alg);
        assert_eq!(seen["x-context-principal"], json!(["alice"]));
        assert_eq!(
            seen["x-context-scopes"],
            json!(["orders:read orders:write"])
        );
        assert_eq!(seen["x-context-roles"], json!(["clerk"]));
        assert_eq!(seen["x-context-claim-tenant"], json!(["acme"]));
        assert!(seen.get("authorization").is_none(), "token not stripped");
    }
    assert_eq!(origin.hits(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn attacks_and_bad_tokens_are_refused_with_invalid_token() {
    let origin = Origin::start().await;
    let rs = Signer::rs256("rsa-1");
    let other = Signer::rs256("rsa-1");
    let gateway = gateway(&origin, &[&rs], json!({ "required_claims": ["tenant"] }));

    let claims = good_claims("alice");
    let with = |change: Value| {
        let mut changed = claims.clone();
        for (key, value) in change.as_object().cloned().unwrap_or_default() {
            changed[key] = value;
        }
        rs.token(&changed)
    };
    let header = |extra: Value| {
        let mut header = json!({"alg": "RS256", "kid": "rsa-1"});
        for (key, value) in extra.as_object().cloned().unwrap_or_default() {
            header[key] = value;
        }
        rs.sign(&header, &claims)
    };
    let good = rs.token(&claims);
    let (head, rest) = good.split_once('.').expect("token");
    let signature = rest.split_once('.').expect("token").1;
    // The RSA public key (its JWK's `n`) used as an HMAC secret: the
    // classic RS256 → HS256 confusion.
    let public_key_bytes = rs.jwk()["n"]
        .as_str()
        .unwrap_or_default()
        .as_bytes()
        .to_vec();
    let now = now();

    let attacks: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(br#"{"alg":"none"}"#),
                b64(claims.to_string().as_bytes())
            ),
        ),
        (
            "alg none, signature kept",
            format!(
                "{}.{}.{signature}",
                b64(br#"{"alg":"none","kid":"rsa-1"}"#),
                b64(claims.to_string().as_bytes())
            ),
        ),
        (
            "RS256 key used as an HS256 secret",
            hs256(
                &public_key_bytes,
                &json!({"alg": "HS256", "kid": "rsa-1"}),
                &claims,
            ),
        ),
        (
            "signed by another key with the same kid",
            other.token(&claims),
        ),
        ("unknown kid", header(json!({"kid": "rsa-2"}))),
        (
            "tampered payload",
            format!(
                "{head}.{}.{signature}",
                b64(with(json!({"sub": "admin"}))
                    .split('.')
                    .nth(1)
                    .unwrap_or_default()
                    .as_bytes())
            ),
        ),
        (
            "payload swapped",
            format!(
                "{head}.{}.{signature}",
                with(json!({"sub": "admin"}))
                    .split('.')
                    .nth(1)
                    .unwrap_or_default()
            ),
        ),
        ("malformed base64", format!("{head}.%%%.{signature}")),
        ("two parts", format!("{head}.{signature}")),
        ("expired", with(json!({"exp": now - 3600}))),
        ("not yet valid", with(json!({"nbf": now + 3600}))),
        ("issued in the future", with(json!({"iat": now + 3600}))),
        ("no exp", {
            let mut c = claims.clone();
            c.as_object_mut().map(|m| m.remove("exp"));
            rs.token(&c)
        }),
        ("wrong audience", with(json!({"aud": "billing-api"}))),
        ("wrong issuer", with(json!({"iss": "https://evil.test"}))),
        ("required claim missing", {
            let mut c = claims.clone();
            c.as_object_mut().map(|m| m.remove("tenant"));
            rs.token(&c)
        }),
        (
            "jku header",
            header(json!({"jku": "https://evil.test/jwks.json"})),
        ),
        (
            "x5u header",
            header(json!({"x5u": "https://evil.test/cert.pem"})),
        ),
        ("embedded jwk", header(json!({"jwk": other.jwk()}))),
        (
            "unknown crit extension",
            header(json!({"crit": ["exp-v2"], "exp-v2": 1})),
        ),
        (
            "oversized token",
            with(json!({"padding": "x".repeat(10_000)})),
        ),
    ];
    for (what, token) in &attacks {
        let reply = get_with(&gateway, &[("authorization", &bearer(token))]).await;
        assert_eq!(reply.status, 401, "{what}: {}", reply.text());
        let challenge = reply
            .header("www-authenticate")
            .unwrap_or_default()
            .to_string();
        assert!(
            challenge.starts_with("Bearer realm=\"api\""),
            "{what}: {challenge}"
        );
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
        assert_eq!(reply.json()["error"], "invalid_token", "{what}");
    }
    assert_eq!(origin.hits(), 0, "a refused token reached the upstream");
    assert_eq!(
        get_with(&gateway, &[("authorization", &bearer(&good))])
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_ambiguous_and_under_scoped_tokens_get_rfc_6750_answers() {
    let origin = Origin::start().await;
    let es = Signer::es256("ec-1");
    let gateway = gateway(
        &origin,
        &[&es],
        json!({ "required_scopes": ["orders:admin"], "match_claims": { "tenant": ["acme"] } }),
    );

    let missing = get_with(&gateway, &[]).await;
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer realm=\"api\"")
    );

    let basic = get_with(&gateway, &[("authorization", "Basic YWxpY2U6cHc=")]).await;
    assert_eq!(basic.status, 400);
    assert!(
        basic
            .header("www-authenticate")
            .unwrap_or_default()
            .contains("invalid_request")
    );

    let under_scoped = es.token(&good_claims("alice"));
    let reply = get_with(&gateway, &[("authorization", &bearer(&under_scoped))]).await;
    assert_eq!(reply.status, 403);
    let challenge = reply
        .header("www-authenticate")
        .unwrap_or_default()
        .to_string();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"orders:admin\""), "{challenge}");

    let mut claims = good_claims("bob");
    claims["scope"] = json!("orders:admin");
    claims["tenant"] = json!("globex");
    let wrong_tenant = es.token(&claims);
    let reply = get_with(&gateway, &[("authorization", &bearer(&wrong_tenant))]).await;
    assert_eq!(reply.status, 403);

    claims["tenant"] = json!("acme");
    let admin = es.token(&claims);
    for _ in 0..3 {
        // Repeats come from the verified-token cache, with the same answer.
        let reply = get_with(&gateway, &[("authorization", &bearer(&admin))]).await;
        assert_eq!(reply.status, 200);
    }
    assert_eq!(origin.hits(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_from_a_cookie_or_the_query_are_removed_before_the_upstream() {
    let origin = Origin::start().await;
    let es = Signer::es256("ec-1");
    let token = es.token(&good_claims("alice"));

    let by_cookie = gateway(
        &origin,
        &[&es],
        json!({ "token": { "from": "cookie", "name": "access_token" }, "strip_token": true }),
    );
    let cookie = format!("theme=dark; access_token={token}");
    let reply = get_with(&by_cookie, &[("cookie", &cookie)]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["headers"]["cookie"], json!(["theme=dark"]));

    let by_query = gateway(
        &origin,
        &[&es],
        json!({ "token": { "from": "query", "name": "access_token" }, "strip_token": true }),
    );
    let url = by_query.url(&format!("/orders?page=2&access_token={token}"));
    let reply = send("GET", &url, &[], "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["query"], "page=2");
    let refused = send("GET", &by_query.url("/orders?page=2"), &[], "").await;
    assert_eq!(refused.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn hs256_needs_an_explicit_secret_and_verifies_with_it() {
    let origin = Origin::start().await;
    let secret = "a-shared-secret-of-at-least-32-bytes!";
    let config = |secret_line: &str| {
        format!(
            r#"
[plugins.jwt]
builtin = "jwt"
role = "authentication"
settings = {{ issuers = [{{ issuer = "{ISSUER}", algorithms = ["HS256"] {secret_line} }}] }}

[[routes]]
id = "api"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{}"] }}
plugins = [{{ name = "jwt" }}]
"#,
            origin.target()
        )
    };
    let refused = Gateway::try_start("", &config(""));
    let logs = refused.err().expect("HS256 without a secret must not load");
    assert!(logs.contains("HS* needs `secret`"), "{logs}");

    let gateway = Gateway::start(&config(&format!(", secret = \"{secret}\"")));
    let claims = good_claims("svc");
    let token = hs256(secret.as_bytes(), &json!({"alg": "HS256"}), &claims);
    let reply = get_with(&gateway, &[("authorization", &bearer(&token))]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let forged = hs256(
        b"another-secret-of-at-least-32-bytes!!",
        &json!({"alg": "HS256"}),
        &claims,
    );
    let reply = get_with(&gateway, &[("authorization", &bearer(&forged))]).await;
    assert_eq!(reply.status, 401);
}
