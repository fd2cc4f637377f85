//! The crash-loop breaker and the chain budget through the gateway: a
//! plugin that keeps trapping stops being called until its cooldown ends,
//! then one trial call decides; a request whose plugins have used up
//! `runtime.chain_budget_ms` gets 503 even where each plugin fails open.

use std::time::{Duration, Instant};

use crate::runtime_admin::{admin, admin_table};
use crate::support::{Gateway, Origin, fixture, send};

fn breaker_config(origin: &Origin) -> String {
    format!(
        r#"
{admin}
[plugins.misbehave]
path = "{misbehave}"
breaker = {{ failures = 3, window_ms = 60000, cooldown_ms = 1000 }}

[[routes]]
id = "r"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{target}"] }}
plugins = [{{ name = "misbehave" }}]
"#,
        admin = admin_table(),
        misbehave = fixture("misbehave").display(),
        target = origin.target(),
    )
}

async fn request(gateway: &Gateway, how: Option<&str>) -> u16 {
    let headers: Vec<(&str, &str)> = how.map(|h| ("x-misbehave", h)).into_iter().collect();
    send("GET", &gateway.url("/x"), &headers, "")
        .await
        .status
        .as_u16()
}

async fn breaker(gateway: &Gateway) -> serde_json::Value {
    admin(gateway, "GET", "/plugins/misbehave", "").await.json()
}

/// Poll (up to 10 s) until the breaker is in `state`.
async fn wait_for_breaker(gateway: &Gateway, state: &str) {
    let started = Instant::now();
    while breaker(gateway).await["breaker"] != state {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the breaker never became {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_crashing_plugin_opens_its_breaker_until_a_trial_succeeds() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&breaker_config(&origin));
    assert_eq!(request(&gateway, None).await, 200);
    assert_eq!(breaker(&gateway).await["breaker"], "closed");

    for _ in 0..3 {
        assert_eq!(request(&gateway, Some("trap")).await, 503);
    }
    let opened = breaker(&gateway).await;
    assert_eq!(opened["breaker"], "open", "{opened}");
    assert!(gateway.wait_for_log(|l| l.contains("plugin breaker opened")));

    // Open: the plugin is not called, its on_error (deny) applies.
    assert_eq!(request(&gateway, None).await, 503);
    let skipped = breaker(&gateway).await;
    assert_eq!(skipped["stats"]["calls"], 4, "{skipped}");
    assert!(skipped["stats"]["skipped_by_breaker"].as_u64() >= Some(1));

    // Half-open after the cooldown: a failing trial opens it again...
    wait_for_breaker(&gateway, "half-open").await;
    assert_eq!(request(&gateway, Some("trap")).await, 503);
    assert_eq!(breaker(&gateway).await["breaker"], "open");

    // ...and a good one closes it.
    wait_for_breaker(&gateway, "half-open").await;
    assert_eq!(request(&gateway, None).await, 200);
    assert_eq!(breaker(&gateway).await["breaker"], "closed");
    assert!(gateway.wait_for_log(|l| l.contains("plugin breaker closed")));
}

fn budget_config(origin: &Origin) -> String {
    format!(
        r#"
[plugins.misbehave]
path = "{misbehave}"
on_error = "allow"
timeout_ms = 100
breaker = {{ failures = 0 }}

# Called every time: a kept decision costs no call, so no budget.
[plugins.headers]
builtin = "headers"
decision_cache_entries = 0

[[routes]]
id = "r"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{target}"] }}
plugins = [{{ name = "misbehave" }}, {{ name = "headers", settings = {{ response = {{ set = {{ "x-checked" = "yes" }} }} }} }}]
"#,
        misbehave = fixture("misbehave").display(),
        target = origin.target(),
    )
}

#[tokio::test]
async fn a_spent_chain_budget_fails_the_request_closed() {
    let origin = Origin::start().await;
    // A spinning plugin that fails open takes its whole 100 ms timeout.
    let unbudgeted = Gateway::start(&budget_config(&origin));
    let reply = send("GET", &unbudgeted.url("/x"), &[("x-misbehave", "loop")], "").await;
    assert_eq!(reply.status, 200, "without a budget the chain goes on");
    assert_eq!(reply.header("x-checked"), Some("yes"));

    let budgeted =
        Gateway::start_with_runtime_keys("chain_budget_ms = 50", &budget_config(&origin));
    assert_eq!(request(&budgeted, None).await, 200, "within the budget");
    let reply = send("GET", &budgeted.url("/x"), &[("x-misbehave", "loop")], "").await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert!(budgeted.wait_for_log(|l| l.contains("plugin time budget is spent")));
}
