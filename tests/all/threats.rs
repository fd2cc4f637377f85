//! Threat detection against scripted attacks over a benign background:
//! password spraying from one address, credential stuffing against one
//! account from many, enumeration, repeated WAF hits and a consumer's rate
//! anomaly are blocked within the configured number of attempts; benign
//! clients never are; blocks expire and can be lifted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::runtime_admin::{admin, admin_table};
use crate::support::client::Reply;
use crate::support::jwt::{hs256, now};
use crate::support::{Gateway, Origin, send};

const SECRET: &str = "threat-test-secret-of-at-least-32-bytes";
const ISSUER: &str = "https://idp.threats";

fn token(subject: &str) -> String {
    let claims = json!({ "iss": ISSUER, "sub": subject, "exp": now() + 3600 });
    format!(
        "Bearer {}",
        hs256(SECRET.as_bytes(), &json!({"alg": "HS256"}), &claims)
    )
}

fn config(origin: &Origin, threats: &str) -> String {
    format!(
        r#"
{admin}
[threats]
{threats}

[plugins.jwt]
builtin = "jwt"
role = "authentication"
settings = {{ issuers = [{{ issuer = "{ISSUER}", algorithms = ["HS256"], secret = "{SECRET}" }}] }}

[[routes]]
id = "api"
path = {{ prefix = "/api" }}
upstream = {{ targets = ["{target}"] }}
plugins = [{{ name = "jwt" }}]
"#,
        admin = admin_table(),
        target = origin.target(),
    )
}

const DETECTORS: &str = r#"block_seconds = 2
auth_failures = { limit = 5, window_seconds = 60 }
account_failures = { account = "header:x-username", limit = 4, window_seconds = 60 }
not_found = { limit = 8, window_seconds = 60 }"#;

fn start(origin: &Origin, threats: &str) -> Gateway {
    Gateway::start_with_server_keys(
        "trusted_proxies = [\"127.0.0.1/32\"]",
        &config(origin, threats),
    )
}

/// A request from `client` (X-Forwarded-For, believed from loopback).
async fn from(gateway: &Gateway, client: &str, path: &str, auth: &str, user: &str) -> Reply {
    let mut headers = vec![("x-forwarded-for", client)];
    if !auth.is_empty() {
        headers.push(("authorization", auth));
    }
    if !user.is_empty() {
        headers.push(("x-username", user));
    }
    send("GET", &gateway.url(path), &headers, "").await
}

/// Benign clients, each its own user, looping until `stop`: good tokens
/// after one typo each at the start. `served` counts their answered
/// requests as they go.
fn background(
    gateway: &Gateway,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<usize> {
    let url = gateway.url("/api/orders");
    tokio::spawn(async move {
        let mut blocked = 0;
        let good = token("benign");
        let mut round = 0usize;
        while !stop.load(Ordering::Relaxed) {
            for (client, user) in [
                ("198.51.100.1", "user1"),
                ("198.51.100.2", "user2"),
                ("198.51.100.3", "user3"),
            ] {
                let auth = if round == 1 {
                    "Bearer typo".to_string()
                } else {
                    good.clone()
                };
                let reply = send(
                    "GET",
                    &url,
                    &[
                        ("x-forwarded-for", client),
                        ("authorization", auth.as_str()),
                        ("x-username", user),
                    ],
                    "",
                )
                .await;
                match reply.status.as_u16() {
                    429 | 403 => blocked += 1,
                    _ => {
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            round += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        blocked
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spraying_stuffing_and_enumeration_are_blocked_and_benign_clients_are_not() {
    let origin = Origin::start().await;
    let gateway = start(&origin, DETECTORS);
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let benign = background(&gateway, stop.clone(), served.clone());
    let good = token("anyone");

    // Spraying: one address, one bad password per account.
    let sprayer = "203.0.113.7";
    for (i, account) in ["a1", "a2", "a3", "a4", "a5"].iter().enumerate() {
        let reply = from(&gateway, sprayer, "/api/login", "Bearer wrong", account).await;
        assert_eq!(reply.status, 401, "attempt {}", i + 1);
    }
    let blocked = from(&gateway, sprayer, "/api/orders", &good, "").await;
    assert_eq!(
        blocked.status,
        429,
        "blocked after 5 failures: {}",
        blocked.text()
    );
    assert!(blocked.header("retry-after").is_some());

    // Stuffing: one account, one attempt from each of many addresses.
    for i in 0..4 {
        let client = format!("203.0.113.{}", 20 + i);
        let reply = from(&gateway, &client, "/api/login", "Bearer wrong", "alice").await;
        assert_eq!(reply.status, 401, "attempt {}", i + 1);
    }
    let fresh = from(&gateway, "203.0.113.99", "/api/login", &good, "alice").await;
    assert_eq!(fresh.status, 429, "the account is locked for everyone");
    let other = from(&gateway, "203.0.113.20", "/api/orders", &good, "carol").await;
    assert_eq!(
        other.status, 200,
        "other accounts from those addresses are served"
    );

    // Enumeration: eight misses, then the ninth request is refused.
    let scanner = "203.0.113.50";
    for path in [
        "/.env",
        "/wp-admin",
        "/admin",
        "/backup",
        "/.git/config",
        "/old",
        "/test",
        "/x",
    ] {
        assert_eq!(
            from(&gateway, scanner, path, "", "").await.status,
            404,
            "{path}"
        );
    }
    assert_eq!(
        from(&gateway, scanner, "/api/orders", &good, "")
            .await
            .status,
        429
    );

    // Let the background run past its own occasional typos.
    let started = Instant::now();
    while served.load(Ordering::Relaxed) < 60 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let refused = benign.await.expect("background");
    let served = served.load(Ordering::Relaxed);
    assert!(served >= 60, "the background ran ({served} requests)");
    assert_eq!(refused, 0, "a benign client was blocked");

    assert!(gateway.wait_for_log(|l| l.contains("\"threat detected\"")
        && l.contains("\"detector\":\"auth_failures\"")
        && l.contains("ip:203.0.113.7")));
    assert!(gateway.wait_for_log(
        |l| l.contains("\"detector\":\"account_failures\"") && l.contains("account:alice")
    ));
    let metrics = admin(&gateway, "GET", "/metrics", "").await.text();
    assert!(
        metrics.contains(
            "portcullis_threat_detections_total{detector=\"not_found\",action=\"blocked\"} 1"
        ),
        "{metrics}"
    );

    // Blocks expire.
    let started = Instant::now();
    loop {
        let status = from(&gateway, sprayer, "/api/orders", &good, "")
            .await
            .status;
        if status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the block never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn operators_list_and_lift_blocks() {
    let origin = Origin::start().await;
    let gateway = start(
        &origin,
        &DETECTORS.replace("block_seconds = 2", "block_seconds = 600"),
    );
    let scanner = "203.0.113.60";
    for i in 0..8 {
        from(&gateway, scanner, &format!("/miss/{i}"), "", "").await;
    }
    assert_eq!(from(&gateway, scanner, "/miss/9", "", "").await.status, 429);
    let listed = admin(&gateway, "GET", "/blocks", "").await.json();
    let block = &listed["blocks"][0];
    assert_eq!(block["key"], "ip:203.0.113.60");
    assert_eq!(block["detector"], "not_found");
    assert!(block["expires_in_s"].as_u64() > Some(500));
    assert_eq!(
        admin(&gateway, "DELETE", "/blocks/ip:203.0.113.60", "")
            .await
            .status,
        200
    );
    assert_eq!(
        admin(&gateway, "DELETE", "/blocks/ip:203.0.113.60", "")
            .await
            .status,
        404
    );
    assert_eq!(
        from(&gateway, scanner, "/miss/10", "", "").await.status,
        404,
        "lifted"
    );
    assert!(gateway.wait_for_log(|l| l.contains("\"block lifted\"")));
}

#[tokio::test]
async fn detect_mode_alerts_without_blocking() {
    let origin = Origin::start().await;
    let gateway = start(&origin, &format!("mode = \"detect\"\n{DETECTORS}"));
    let sprayer = "203.0.113.70";
    for _ in 0..8 {
        assert_eq!(
            from(&gateway, sprayer, "/api/x", "Bearer wrong", "")
                .await
                .status,
            401
        );
    }
    assert_eq!(
        from(&gateway, sprayer, "/api/x", &token("ok"), "")
            .await
            .status,
        200
    );
    assert!(gateway.wait_for_log(
        |l| l.contains("\"threat detected\"") && l.contains("\"action\":\"detected\"")
    ));
}

#[tokio::test]
async fn a_consumer_far_above_its_own_baseline_is_blocked() {
    let origin = Origin::start().await;
    let gateway = start(
        &origin,
        "block_seconds = 600\nrate_anomaly = { factor = 5.0, min_requests = 20, window_seconds = 1 }",
    );
    let auth = token("svc");
    // A few requests a second for a few seconds: the baseline (three full
    // windows are needed before anything is judged).
    for _ in 0..5 {
        for _ in 0..3 {
            assert_eq!(
                from(&gateway, "198.51.100.9", "/api/x", &auth, "")
                    .await
                    .status,
                200
            );
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    // Then a burst.
    let sent = AtomicUsize::new(0);
    let mut refused = false;
    while sent.fetch_add(1, Ordering::Relaxed) < 400 {
        if from(&gateway, "198.51.100.9", "/api/x", &auth, "")
            .await
            .status
            == 429
        {
            refused = true;
            break;
        }
    }
    assert!(refused, "the burst was never refused");
    assert!(gateway.wait_for_log(
        |l| l.contains("\"detector\":\"rate_anomaly\"") && l.contains("consumer:svc")
    ));
    // Other consumers are not affected.
    assert_eq!(
        from(&gateway, "198.51.100.9", "/api/x", &token("other"), "")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn repeated_waf_hits_block_the_client() {
    let origin = Origin::start().await;
    let toml = format!(
        "{}\n[threats]\nwaf_hits = {{ limit = 3, window_seconds = 60 }}\n{}",
        admin_table(),
        crate::support::waf::config(&origin.target(), "", "")
    );
    let gateway = Gateway::start_with_server_keys("trusted_proxies = [\"127.0.0.1/32\"]", &toml);
    let attacker = "203.0.113.80";
    let attack =
        "/search?q=1%27%20OR%20%271%27%3D%271%27%20UNION%20SELECT%20password%20FROM%20users--";
    for i in 0..3 {
        let reply = send(
            "GET",
            &gateway.url(attack),
            &[("x-forwarded-for", attacker)],
            "",
        )
        .await;
        assert_eq!(reply.status, 403, "attack {} is blocked by the WAF", i + 1);
    }
    let after = send(
        "GET",
        &gateway.url("/search?q=shoes"),
        &[("x-forwarded-for", attacker)],
        "",
    )
    .await;
    assert_eq!(after.status, 429, "the client is blocked after 3 WAF hits");
    let benign = send(
        "GET",
        &gateway.url("/search?q=shoes"),
        &[("x-forwarded-for", "198.51.100.20")],
        "",
    )
    .await;
    assert_eq!(benign.status, 200);
    assert!(gateway.wait_for_log(
        |l| l.contains("\"plugin denied the request\"") && l.contains("waf-blocked rules=")
    ));
    // The WAF counts its blocks by rule through the metrics capability.
    let metrics = admin(&gateway, "GET", "/metrics", "").await.text();
    assert!(
        metrics.contains("portcullis_plugin_events_total{plugin=\"waf\",event=\"blocked_by_rule\",label=\"942100\"} 3"),
        "{metrics}"
    );
}
