//! API keys end to end: issued, listed and revoked with `portcullis keys`
//! through the running gateway's admin API, checked by the `api-key`
//! plugin, kept across a restart, and held to their consumer's usage plan.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::client::Reply;
use crate::support::gateway::{binary, one_route};
use crate::support::{Gateway, Origin, fixture, send};

const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// A gateway with the admin API, a key store at `store`, two plans, and
/// one route behind `api-key` then `show-context`.
fn gateway(origin: &Origin, store: &Path) -> Gateway {
    let settings = json!({
        "admin": {
            "listen": "127.0.0.1:0",
            "token_sha256": hex::encode(Sha256::digest(ADMIN_TOKEN)),
        },
        "api_keys": { "store": store.display().to_string() },
        "usage_plans": {
            "tiny": { "requests": 2, "per_seconds": 60, "burst": 2 },
            "daily": { "quota": 3, "quota_period": "day" },
        },
    });
    let plugins = json!({
        "keys": { "builtin": "api-key", "role": "authentication" },
        "show-context": { "path": fixture("show-context").display().to_string() },
    });
    let mut config = one_route(plugins, &origin.target(), &["keys", "show-context"]);
    for (key, value) in settings.as_object().cloned().unwrap_or_default() {
        config[key] = value;
    }
    Gateway::start_json(&config)
}

/// `portcullis keys ARGS` against `gateway`'s admin API: (success, stdout
/// as JSON or Null, stderr).
fn keys_command(gateway: &Gateway, args: &[&str], token: Option<&str>) -> (bool, Value, String) {
    let mut command = Command::new(binary());
    command
        .args(["keys", "--admin", &gateway.admin_url()])
        .args(args);
    command.env_remove("PORTCULLIS_ADMIN_TOKEN");
    if let Some(token) = token {
        command.env("PORTCULLIS_ADMIN_TOKEN", token);
    }
    let output = command.output().expect("run portcullis keys");
    let stdout = String::from_utf8_lossy(&output.stdout);
    (
        output.status.success(),
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Issue a key for `consumer` (on `plan`): (id, key).
fn create(gateway: &Gateway, consumer: &str, plan: Option<&str>) -> (String, String) {
    let mut args = vec!["create", "--consumer", consumer];
    if let Some(plan) = plan {
        args.extend(["--plan", plan]);
    }
    let (ok, answer, stderr) = keys_command(gateway, &args, Some(ADMIN_TOKEN));
    assert!(ok, "keys create failed: {stderr}");
    (
        answer["id"].as_str().expect("id").to_string(),
        answer["key"].as_str().expect("key").to_string(),
    )
}

async fn with_key(gateway: &Gateway, key: &str) -> Reply {
    send("GET", &gateway.url("/orders"), &[("x-api-key", key)], "").await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_is_created_used_and_revoked_and_that_survives_a_restart() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("keys.redb");
    let gateway_1 = gateway(&origin, &store);

    let (revoked_id, revoked_key) = create(&gateway_1, "acme", None);
    let (_, kept_key) = create(&gateway_1, "globex", None);
    assert!(revoked_key.starts_with(&format!("pk_{revoked_id}_")));

    let reply = with_key(&gateway_1, &revoked_key).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = &reply.json()["headers"];
    assert_eq!(seen["x-context-principal"], json!(["acme"]));
    assert!(
        seen.get("x-api-key").is_none(),
        "the key is kept from the upstream"
    );

    let (ok, answer, stderr) =
        keys_command(&gateway_1, &["revoke", &revoked_id], Some(ADMIN_TOKEN));
    assert!(ok, "{stderr}");
    assert!(answer["revoked"].is_u64());
    let refused = with_key(&gateway_1, &revoked_key).await;
    assert_eq!(
        refused.status, 401,
        "refused from the first request after the revoke"
    );
    assert_eq!(refused.json(), json!({ "error": "invalid api key" }));

    let (ok, listed, _) = keys_command(&gateway_1, &["list"], Some(ADMIN_TOKEN));
    assert!(ok);
    let keys = listed["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 2);
    let text = listed.to_string();
    assert!(
        !text.contains(&kept_key) && !text.contains("sha256"),
        "{text}"
    );
    assert!(
        gateway_1
            .logs()
            .iter()
            .all(|line| !line.contains(&kept_key[16..])),
        "a key reached the logs"
    );
    drop(gateway_1);

    let gateway_2 = gateway(&origin, &store);
    assert_eq!(with_key(&gateway_2, &kept_key).await.status, 200);
    assert_eq!(with_key(&gateway_2, &revoked_key).await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_unknown_and_forged_keys_get_401() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = gateway(&origin, &dir.path().join("keys.redb"));
    let (id, _) = create(&gateway, "acme", None);

    let missing = send("GET", &gateway.url("/orders"), &[], "").await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.header("www-authenticate"), Some("ApiKey"));
    assert_eq!(with_key(&gateway, "not-a-key").await.status, 401);
    let forged = format!("pk_{id}_{}", "A".repeat(43));
    assert_eq!(with_key(&gateway, &forged).await.status, 401);
    assert_eq!(origin.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plans_rate_and_quota_are_enforced_with_429() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = gateway(&origin, &dir.path().join("keys.redb"));

    let (_, tiny) = create(&gateway, "acme", Some("tiny"));
    for _ in 0..2 {
        assert_eq!(with_key(&gateway, &tiny).await.status, 200);
    }
    let limited = with_key(&gateway, &tiny).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json(), json!({ "error": "rate limit exceeded" }));
    let retry: u64 = limited
        .header("retry-after")
        .expect("retry-after")
        .parse()
        .expect("seconds");
    assert!((1..=30).contains(&retry), "{retry}");
    assert_eq!(
        limited.header("ratelimit-policy"),
        Some("\"tiny\";q=2;w=60")
    );

    let (_, daily) = create(&gateway, "globex", Some("daily"));
    for _ in 0..3 {
        assert_eq!(with_key(&gateway, &daily).await.status, 200);
    }
    let over = with_key(&gateway, &daily).await;
    assert_eq!(over.status, 429);
    assert_eq!(over.json(), json!({ "error": "quota exceeded" }));
    let reset: u64 = over
        .header("retry-after")
        .expect("retry-after")
        .parse()
        .expect("seconds");
    assert!(
        (1..=86_400).contains(&reset),
        "until the end of the UTC day: {reset}"
    );
    assert_eq!(
        over.header("ratelimit-policy"),
        Some("\"daily-quota\";q=3;w=86400")
    );
    assert_eq!(origin.hits(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_wants_its_token_and_a_known_plan() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = gateway(&origin, &dir.path().join("keys.redb"));

    let (ok, _, stderr) = keys_command(&gateway, &["list"], None);
    assert!(!ok && stderr.contains("PORTCULLIS_ADMIN_TOKEN"), "{stderr}");
    let (ok, _, stderr) = keys_command(&gateway, &["list"], Some("wrong-token"));
    assert!(!ok && stderr.contains("401"), "{stderr}");
    let (ok, _, stderr) = keys_command(
        &gateway,
        &["create", "--consumer", "x", "--plan", "gold"],
        Some(ADMIN_TOKEN),
    );
    assert!(!ok && stderr.contains("no usage plan"), "{stderr}");

    let raw = send("GET", &format!("{}/keys", gateway.admin_url()), &[], "").await;
    assert_eq!(raw.status, 401);
    assert_eq!(
        raw.header("www-authenticate"),
        Some("Bearer realm=\"portcullis-admin\"")
    );
    // The traffic listener does not serve the admin API.
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let proxied = send(
        "GET",
        &gateway.url("/keys"),
        &[("authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!(
        proxied.status, 401,
        "the api-key plugin guards it like any route"
    );
}
