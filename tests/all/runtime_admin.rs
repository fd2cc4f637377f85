//! Plugins and configuration changed while the gateway runs: reload on a
//! file change and on SIGHUP, the admin API's route and plugin endpoints,
//! refusals that leave the running configuration as it was.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::client::Reply;
use crate::support::{Gateway, Origin, fixture, send};

pub const ADMIN_TOKEN: &str = "test-admin-token-for-runtime-changes";

/// `[admin]` on a free loopback port with [`ADMIN_TOKEN`].
pub fn admin_table() -> String {
    format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntoken_sha256 = \"{}\"\n",
        hex::encode(Sha256::digest(ADMIN_TOKEN))
    )
}

/// One route `r` to `origin` with the `headers` plugin setting the
/// response header `x-version`, plus plugins defined but not attached.
pub fn config(origin: &Origin, version: &str) -> String {
    format!(
        r#"
{admin}
[plugins.headers]
builtin = "headers"

[plugins.misbehave]
path = "{misbehave}"

[[routes]]
id = "r"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{target}"] }}
[[routes.plugins]]
name = "headers"
settings = {{ response = {{ set = {{ "x-version" = "{version}" }} }} }}
"#,
        admin = admin_table(),
        misbehave = fixture("misbehave").display(),
        target = origin.target(),
    )
}

/// An admin call with the token.
pub async fn admin(
    gateway: &Gateway,
    method: &str,
    path: &str,
    body: impl Into<bytes::Bytes>,
) -> Reply {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    send(
        method,
        &format!("{}{path}", gateway.admin_url()),
        &[("authorization", auth.as_str())],
        body,
    )
    .await
}

async fn version(gateway: &Gateway) -> Option<String> {
    let reply = send("GET", &gateway.url("/x"), &[], "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.header("x-version").map(str::to_string)
}

/// Poll (up to 10 s) until the served version is `expected`; how long it took.
pub async fn wait_for_version(gateway: &Gateway, expected: &str) -> Duration {
    let started = Instant::now();
    loop {
        if version(gateway).await.as_deref() == Some(expected) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "version {expected} never served"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_changed_config_file_is_applied_and_a_bad_one_refused() {
    let origin = Origin::start().await;
    let gateway = Gateway::start_with_server_keys("reload_check_ms = 50", &config(&origin, "1"));
    assert_eq!(version(&gateway).await.as_deref(), Some("1"));

    gateway.rewrite_config(|text| text.replace("\"x-version\" = \"1\"", "\"x-version\" = \"2\""));
    let took = wait_for_version(&gateway, "2").await;
    eprintln!("file change applied after {took:?}");

    // Invalid TOML, then a config whose plugin fails `configure`: both are
    // refused with their reason and version 2 stays.
    gateway.rewrite_config(|text| format!("{text}\nthis is not toml\n"));
    assert!(gateway.wait_for_log(|l| l.contains("configuration refused")));
    gateway.rewrite_config(|text| {
        text.replace("\nthis is not toml\n", "").replace(
            "name = \"headers\"",
            "name = \"misbehave\"\nsettings = { fail = true }\n[[routes.plugins]]\nname = \"headers\"",
        )
    });
    assert!(gateway.wait_for_log(|l| l.contains("settings ask this plugin to fail")));
    assert_eq!(version(&gateway).await.as_deref(), Some("2"));
}

#[tokio::test]
async fn sighup_reloads_and_listener_settings_need_a_restart() {
    let origin = Origin::start().await;
    let gateway = Gateway::start_with_server_keys("reload_check_ms = 0", &config(&origin, "1"));
    gateway.rewrite_config(|text| text.replace("\"x-version\" = \"1\"", "\"x-version\" = \"2\""));
    gateway.signal("HUP");
    wait_for_version(&gateway, "2").await;

    gateway.rewrite_config(|text| text.replace("grace_period_ms = 5000", "grace_period_ms = 1"));
    let reply = admin(&gateway, "POST", "/config/reload", "").await;
    assert_eq!(reply.status, 422, "{}", reply.text());
    assert_eq!(reply.json()["key"], "server.grace_period_ms");
    assert!(
        reply.json()["reason"]
            .as_str()
            .unwrap_or("")
            .contains("restart")
    );
}

#[tokio::test]
async fn the_admin_api_lists_and_changes_routes_and_plugins() {
    let origin = Origin::start().await;
    let gateway = Gateway::start_with_server_keys("reload_check_ms = 0", &config(&origin, "1"));

    let anonymous = send("GET", &format!("{}/plugins", gateway.admin_url()), &[], "").await;
    assert_eq!(anonymous.status, 401);
    let wrong = send(
        "GET",
        &format!("{}/routes", gateway.admin_url()),
        &[("authorization", "Bearer not-the-token")],
        "",
    )
    .await;
    assert_eq!(wrong.status, 401);

    let routes = admin(&gateway, "GET", "/routes", "").await.json();
    assert_eq!(routes["routes"][0]["id"], "r");
    assert_eq!(routes["routes"][0]["plugins"][0]["name"], "headers");

    let plugins = admin(&gateway, "GET", "/plugins", "").await.json();
    let headers = &plugins["plugins"][0];
    assert_eq!(headers["name"], "headers");
    assert_eq!(headers["loaded"], true);
    let digest = headers["provenance"]["sha256"].as_str().unwrap_or("");
    assert_eq!(digest.len(), 64, "{headers}");
    assert_eq!(headers["provenance"]["source"], "builtin:headers");
    assert!(
        headers["provenance"]["imports"]
            .as_array()
            .is_some_and(|i| i.iter().any(|name| name
                .as_str()
                .is_some_and(|n| n.starts_with("portcullis:policy/types")))),
        "{headers}"
    );
    assert_eq!(headers["pools"][0]["first_route"], "r");
    assert!(headers["pools"][0]["instances"].as_u64() >= Some(1));
    assert_eq!(headers["breaker"], "closed");
    assert_eq!(plugins["plugins"][1]["name"], "misbehave");
    assert_eq!(plugins["plugins"][1]["loaded"], false);

    // Bad input: 400, 404, and 422 for a plugin that fails `configure`,
    // with nothing changed.
    assert_eq!(
        admin(&gateway, "PUT", "/routes/r/plugins/misbehave", "{not json")
            .await
            .status,
        400
    );
    assert_eq!(
        admin(&gateway, "PUT", "/routes/r/plugins/nope", "{}")
            .await
            .status,
        404
    );
    assert_eq!(
        admin(&gateway, "PUT", "/routes/nope/plugins/misbehave", "{}")
            .await
            .status,
        404
    );
    assert_eq!(
        admin(&gateway, "GET", "/plugins/nope", "").await.status,
        404
    );
    let refused = admin(
        &gateway,
        "PUT",
        "/routes/r/plugins/misbehave",
        json!({ "settings": { "fail": true } }).to_string(),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(
        refused.json()["reason"]
            .as_str()
            .unwrap_or("")
            .contains("settings ask this plugin to fail"),
        "{}",
        refused.text()
    );
    let unchanged = send("GET", &gateway.url("/x"), &[], "").await;
    assert!(unchanged.header("x-misbehave-checked").is_none());

    // Attach first in the chain, then change the headers plugin's settings.
    let attached = admin(
        &gateway,
        "PUT",
        "/routes/r/plugins/misbehave",
        json!({ "position": 0 }).to_string(),
    )
    .await;
    assert_eq!(attached.status, 200, "{}", attached.text());
    let generation = attached.json()["applied"]["generation"]
        .as_u64()
        .unwrap_or(0);
    assert!(generation >= 2);
    let through = send("GET", &gateway.url("/x"), &[], "").await;
    assert_eq!(
        through.json()["headers"]["x-misbehave-checked"],
        json!(["yes"])
    );
    let changed = admin(
        &gateway,
        "PUT",
        "/routes/r/plugins/headers",
        json!({ "settings": { "response": { "set": { "x-version": "9" } } } }).to_string(),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    assert_eq!(version(&gateway).await.as_deref(), Some("9"));
    let routes = admin(&gateway, "GET", "/routes", "").await.json();
    let chain: Vec<&str> = routes["routes"][0]["plugins"]
        .as_array()
        .map(|p| p.iter().filter_map(|x| x["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(chain, ["misbehave", "headers"]);

    // A plugin in use cannot be removed; detached, it can.
    assert_eq!(
        admin(&gateway, "DELETE", "/plugins/misbehave", "")
            .await
            .status,
        409
    );
    assert_eq!(
        admin(&gateway, "DELETE", "/routes/r/plugins/misbehave", "")
            .await
            .status,
        200
    );
    assert_eq!(
        admin(&gateway, "DELETE", "/routes/r/plugins/misbehave", "")
            .await
            .status,
        404
    );
    assert_eq!(
        admin(&gateway, "DELETE", "/plugins/misbehave", "")
            .await
            .status,
        200
    );
    assert_eq!(
        admin(&gateway, "GET", "/plugins/misbehave", "")
            .await
            .status,
        404
    );

    // Upload a component: stored, pinned by digest, attachable.
    let bytes = std::fs::read(fixture("show-context")).expect("component");
    let uploaded = admin(&gateway, "PUT", "/plugins/context/component", bytes.clone()).await;
    assert_eq!(uploaded.status, 200, "{}", uploaded.text());
    let described = admin(&gateway, "GET", "/plugins/context", "").await.json();
    assert_eq!(
        described["pinned_sha256"],
        hex::encode(Sha256::digest(&bytes))
    );
    assert_eq!(
        admin(&gateway, "PUT", "/routes/r/plugins/context", "")
            .await
            .status,
        200
    );
    let described = admin(&gateway, "GET", "/plugins/context", "").await.json();
    assert_eq!(
        described["provenance"]["sha256"],
        hex::encode(Sha256::digest(&bytes))
    );
    assert_eq!(
        admin(&gateway, "PUT", "/plugins/context/component", "")
            .await
            .status,
        400
    );

    // Define a plugin from JSON naming a file.
    let defined = admin(
        &gateway,
        "PUT",
        "/plugins/again",
        json!({ "path": fixture("misbehave").display().to_string(), "version": "2.0.1" })
            .to_string(),
    )
    .await;
    assert_eq!(defined.status, 200, "{}", defined.text());
    assert_eq!(
        admin(
            &gateway,
            "PUT",
            "/plugins/bad",
            json!({ "colour": "red" }).to_string()
        )
        .await
        .status,
        400
    );

    // Reloading from the file drops what the admin API changed.
    let reloaded = admin(&gateway, "POST", "/config/reload", "").await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    assert_eq!(version(&gateway).await.as_deref(), Some("1"));

    let openapi = admin(&gateway, "GET", "/openapi.json", "").await;
    let served: Value = openapi.json();
    let checked_in: Value = serde_json::from_str(
        &std::fs::read_to_string(
            crate::support::fixtures::workspace().join("host/src/admin/openapi.json"),
        )
        .expect("read openapi.json"),
    )
    .expect("valid JSON");
    assert_eq!(served, checked_in);
    for path in [
        "/routes",
        "/routes/{id}/plugins/{name}",
        "/plugins",
        "/plugins/{name}",
        "/plugins/{name}/component",
        "/config/reload",
        "/keys",
        "/keys/{id}",
        "/metrics",
        "/blocks",
        "/blocks/{key}",
    ] {
        assert!(served["paths"].get(path).is_some(), "{path} is documented");
    }

    // Every call was audited: who, what, result.
    assert!(gateway.wait_for_log(|l| l.contains("\"admin call\"")
        && l.contains("\"status\":401")
        && l.contains("anonymous")));
    assert!(gateway.wait_for_log(|l| l.contains("\"admin call\"")
        && l.contains("/plugins/context/component")
        && l.contains("\"status\":200")));
}

#[tokio::test]
async fn a_request_in_flight_finishes_on_the_configuration_it_started_with() {
    let origin = Origin::start().await;
    let gateway = Gateway::start_with_server_keys("reload_check_ms = 0", &config(&origin, "1"));
    let slow_url = gateway.url("/delay/1500");
    let slow = tokio::spawn(async move { send("GET", &slow_url, &[], "").await });
    // Wait until the slow request is at the origin, then change the
    // response header it will get.
    let started = Instant::now();
    while origin.hits() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the slow request never arrived"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let changed = admin(
        &gateway,
        "PUT",
        "/routes/r/plugins/headers",
        json!({ "settings": { "response": { "set": { "x-version": "2" } } } }).to_string(),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    assert_eq!(
        version(&gateway).await.as_deref(),
        Some("2"),
        "new requests see the change"
    );
    let slow = slow.await.expect("slow request");
    assert_eq!(slow.status, 200);
    assert_eq!(
        slow.header("x-version"),
        Some("1"),
        "the old request kept its version"
    );
}

#[tokio::test]
async fn admin_edits_work_when_the_config_is_named_by_a_relative_path() {
    // The component is named relative to the config, the config relative
    // to the working directory: an edit must not join the directory twice.
    let origin = Origin::start().await;
    let gateway = Gateway::start_with_relative_config(&config(&origin, "1"));
    let beside = gateway.config_path().with_file_name("misbehave.wasm");
    std::fs::copy(fixture("misbehave"), beside).expect("copy beside the config");
    let absolute = format!("path = \"{}\"", fixture("misbehave").display());
    gateway.rewrite_config(|text| text.replace(&absolute, "path = \"misbehave.wasm\""));
    let reloaded = admin(&gateway, "POST", "/config/reload", "").await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    let attached = admin(&gateway, "PUT", "/routes/r/plugins/misbehave", "").await;
    assert_eq!(attached.status, 200, "{}", attached.text());
    let through = send("GET", &gateway.url("/x"), &[], "").await;
    assert_eq!(
        through.json()["headers"]["x-misbehave-checked"],
        json!(["yes"])
    );
}

#[tokio::test]
async fn a_reload_the_instance_cap_cannot_hold_beside_the_running_one_says_so() {
    let origin = Origin::start().await;
    // Two pools of `headers` (one per route's settings), one instance each:
    // the cap of two is full while this configuration runs.
    let two_pools = format!(
        "{}\n[[routes]]\nid = \"other\"\npath = {{ prefix = \"/other\" }}\n\
         upstream = {{ targets = [\"{}\"] }}\n[[routes.plugins]]\nname = \"headers\"\n\
         settings = {{ response = {{ set = {{ \"x-other\" = \"1\" }} }} }}\n",
        config(&origin, "1").replace(
            "[plugins.headers]\nbuiltin = \"headers\"",
            "[plugins.headers]\nbuiltin = \"headers\"\npool = { prewarm = 1 }",
        ),
        origin.target(),
    );
    let gateway = Gateway::start_with_runtime_keys("max_instances = 2", &two_pools);
    assert_eq!(version(&gateway).await.as_deref(), Some("1"));

    // One new pool fits the cap on its own, but not beside the two the
    // running configuration holds until the swap.
    gateway.rewrite_config(|text| text.replace("\"x-version\" = \"1\"", "\"x-version\" = \"2\""));
    let reply = admin(&gateway, "POST", "/config/reload", "").await;
    assert_eq!(reply.status, 422, "{}", reply.text());
    let reason = reply.json()["reason"].as_str().unwrap_or("").to_string();
    assert!(
        reason.contains("runtime.max_instances is reached") && !reason.contains("trapped"),
        "{reason}"
    );
    assert_eq!(version(&gateway).await.as_deref(), Some("1"));
}
