//! Native rate limits and client address resolution.

use std::time::{Duration, Instant};

use crate::support::{Gateway, Origin, get, send};

fn limited_routes(origin: &Origin) -> String {
    format!(
        r#"
[rate_limits.per-client]
key = "ip"
requests = 3
per_seconds = 60

[rate_limits.per-key]
key = "header:x-api-key"
requests = 2
per_seconds = 1

[[routes]]
id = "by-ip"
path = {{ prefix = "/ip" }}
upstream = {{ targets = ["{target}"] }}
rate_limits = ["per-client"]

[[routes]]
id = "by-key"
path = {{ prefix = "/key" }}
upstream = {{ targets = ["{target}"] }}
rate_limits = ["per-key"]
"#,
        target = origin.target()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_is_served_then_refused_with_429_and_rate_limit_fields() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&limited_routes(&origin));

    for remaining in [2, 1, 0] {
        let reply = get(&gateway.url("/ip/x")).await;
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.header("ratelimit-policy"),
            Some("\"per-client\";q=3;w=60")
        );
        assert_eq!(
            reply.header("ratelimit"),
            Some(format!("\"per-client\";r={remaining}").as_str())
        );
    }
    let refused = get(&gateway.url("/ip/x")).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["error"], "rate limit exceeded");
    assert_eq!(refused.header("retry-after"), Some("20"));
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some("\"per-client\";q=3;w=60")
    );
    assert_eq!(refused.header("ratelimit"), Some("\"per-client\";r=0;t=20"));
    assert_eq!(
        origin.hits(),
        3,
        "refused requests must not reach the upstream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn header_keys_are_independent_and_recover_after_the_window() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&limited_routes(&origin));
    let with_key = |key: &'static str| {
        let url = gateway.url("/key/x");
        async move { send("GET", &url, &[("x-api-key", key)], "").await.status }
    };

    assert_eq!(with_key("alice").await, 200);
    assert_eq!(with_key("alice").await, 200);
    assert_eq!(with_key("alice").await, 429);
    assert_eq!(with_key("bob").await, 200, "another key has its own bucket");

    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if with_key("alice").await == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "alice's bucket never refilled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn filtered_route(origin: &Origin) -> String {
    format!(
        r#"
[plugins.ip-filter]
builtin = "ip-filter"

[[routes]]
id = "filtered"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{}"] }}
plugins = [{{ name = "ip-filter", settings = {{ deny = ["203.0.113.0/24"] }} }}]
"#,
        origin.target()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let origin = Origin::start().await;
    let spoofed = [("x-forwarded-for", "203.0.113.9")];

    let untrusting = Gateway::start(&filtered_route(&origin));
    let reply = send("GET", &untrusting.url("/inspect"), &spoofed, "").await;
    assert_eq!(
        reply.status, 200,
        "a spoofed X-Forwarded-For from an untrusted peer is ignored"
    );
    assert_eq!(
        reply.json()["headers"]["x-forwarded-for"][0],
        "203.0.113.9, 127.0.0.1"
    );

    let trusting = Gateway::start_with_server_keys(
        "trusted_proxies = [\"127.0.0.1\"]",
        &filtered_route(&origin),
    );
    let reply = send("GET", &trusting.url("/inspect"), &spoofed, "").await;
    assert_eq!(
        reply.status, 403,
        "the client behind a trusted proxy is 203.0.113.9"
    );
}

fn consumer_routes(origin: &Origin, role: &str) -> String {
    format!(
        r#"
[plugins.identify]
path = {wasm:?}
role = "{role}"

[rate_limits.per-consumer]
key = "consumer"
requests = 2
per_seconds = 60

[[routes]]
id = "by-consumer"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{target}"] }}
plugins = [{{ name = "identify" }}]
rate_limits = ["per-consumer"]
"#,
        wasm = crate::support::fixture("identify").display().to_string(),
        target = origin.target()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn consumer_limits_count_the_principal_an_authentication_plugin_set() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&consumer_routes(&origin, "authentication"));
    let as_user = |user: &'static str| {
        let url = gateway.url("/x");
        async move { send("GET", &url, &[("x-user", user)], "").await.status }
    };
    assert_eq!(as_user("alice").await, 200);
    assert_eq!(as_user("alice").await, 200);
    assert_eq!(as_user("alice").await, 429);
    assert_eq!(as_user("bob").await, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_authentication_plugins_may_set_the_principal() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&consumer_routes(&origin, "policy"));
    let reply = send("GET", &gateway.url("/x"), &[("x-user", "mallory")], "").await;
    assert_eq!(reply.status, 503);
    assert!(
        gateway.wait_for_log(|l| l.contains("only plugins with role")),
        "{:?}",
        gateway.logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plugins_can_use_the_native_limiter_with_their_own_keys() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&format!(
        r#"
[plugins.limiter]
path = {wasm:?}
capabilities = ["rate-limit"]

[rate_limits.per-tenant]
key = "route"
requests = 2
per_seconds = 60

[[routes]]
id = "tenants"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{target}"] }}
plugins = [{{ name = "limiter", settings = {{ policy = "per-tenant" }} }}]
"#,
        wasm = crate::support::fixture("limiter").display().to_string(),
        target = origin.target()
    ));
    let as_tenant = |tenant: &'static str| {
        let url = gateway.url("/x");
        async move { send("GET", &url, &[("x-tenant", tenant)], "").await }
    };
    assert_eq!(
        as_tenant("acme").await.json()["headers"]["x-tenant-left"][0],
        "1"
    );
    assert_eq!(
        as_tenant("acme").await.json()["headers"]["x-tenant-left"][0],
        "0"
    );
    let limited = as_tenant("acme").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("30"));
    assert_eq!(
        as_tenant("globex").await.status,
        200,
        "another tenant has its own bucket"
    );
}
