//! Several gateways sharing state in a real Redis: one global rate limit
//! across three instances, API key revocations that reach every instance,
//! and a Redis outage that follows each instance's failure setting and
//! heals without a restart.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::runtime_admin::admin_table;
use crate::support::redis::Redis;
use crate::support::{Gateway, Origin, fixture, get, send};

/// A gateway on `redis` with one route to `origin` limited to `limit`
/// requests a minute for everyone together (`key = "route"`).
fn limited_gateway(redis: &Redis, origin: &Origin, limit: u32, state_keys: &str) -> Gateway {
    let state = format!("{}\ntimeout_ms = 200\n{state_keys}", redis.state_table());
    limited_gateway_on(&state, origin, limit)
}

/// A gateway with `state` (its `[state]` table and any tables under it)
/// and one route to `origin` limited to `limit` requests a minute for
/// everyone together.
pub fn limited_gateway_on(state: &str, origin: &Origin, limit: u32) -> Gateway {
    Gateway::start(&format!(
        r#"
{state}

[rate_limits.global]
key = "route"
requests = {limit}
per_seconds = 60

[[routes]]
id = "limited"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{target}"] }}
rate_limits = ["global"]
"#,
        target = origin.target(),
    ))
}

/// Requests sent round-robin over `gateways`: how many got 200, and
/// checks that every other answer is a well-formed 429.
async fn allowed_of(gateways: &[Gateway], requests: usize) -> usize {
    let mut allowed = 0;
    for i in 0..requests {
        let reply = get(&gateways[i % gateways.len()].url("/")).await;
        match reply.status.as_u16() {
            200 => allowed += 1,
            429 => {
                assert!(
                    reply.header("retry-after").is_some(),
                    "429 without Retry-After"
                );
                assert_eq!(reply.json()["error"], "rate limit exceeded");
            }
            other => panic!("unexpected status {other}: {}", reply.text()),
        }
    }
    allowed
}

#[tokio::test(flavor = "multi_thread")]
async fn a_global_limit_holds_across_three_gateways() {
    let redis = Redis::start();
    let origin = Origin::start().await;
    // One token per Redis call: exact (over a pool of three connections).
    let exact: Vec<Gateway> = (0..3)
        .map(|_| limited_gateway(&redis, &origin, 30, "lease = 1\npool_size = 3"))
        .collect();
    let allowed = allowed_of(&exact, 90).await;
    // 30 at once; one more frees every 2 s while the requests run.
    assert!((30..=31).contains(&allowed), "allowed {allowed} of 30");
    drop(exact);

    // Leased tokens (a tenth of the burst per call): never more than the
    // limit, fewer by at most lease - 1 per instance.
    redis.command(&["FLUSHALL"]).expect("flush");
    let leased: Vec<Gateway> = (0..3)
        .map(|_| limited_gateway(&redis, &origin, 30, ""))
        .collect();
    let allowed = allowed_of(&leased, 90).await;
    assert!(
        (30 - 3 * 2..=31).contains(&allowed),
        "allowed {allowed} of 30 with leases of 3"
    );

    // All at once: concurrent misses on one instance wait for the one
    // asking Redis rather than ask too, so no token is thrown away: a
    // refusal answered before another request's grant would have
    // refused requests the grant could serve. Fresh gateways: the
    // others remember Redis's refusals.
    drop(leased);
    redis.command(&["FLUSHALL"]).expect("flush");
    let leased: Vec<Gateway> = (0..3)
        .map(|_| limited_gateway(&redis, &origin, 30, ""))
        .collect();
    let sends = (0..90).map(|i| get_owned(leased[i % 3].url("/")));
    let statuses = futures_util::future::join_all(sends).await;
    let allowed = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        (30..=31).contains(&allowed),
        "allowed {allowed} of 30 with 90 concurrent requests"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_user_and_database_given_beside_the_url_are_used() {
    let redis = Redis::start();
    redis.admit_only("gateway", "s3cret");
    let origin = Origin::start().await;
    let gateway = limited_gateway(
        &redis,
        &origin,
        30,
        "username = \"gateway\"\npassword = \"s3cret\"\ndatabase = 5\nrate_limits_on_error = \"deny\"\nlease = 1",
    );
    // Limits fail closed: a 200 means the call to Redis went through.
    assert_eq!(get(&gateway.url("/")).await.status, 200);
    assert!(!redis.keys_as("gateway", "s3cret", 5).is_empty());
    assert!(redis.keys_as("gateway", "s3cret", 0).is_empty());
}

async fn get_owned(url: String) -> u16 {
    get(&url).await.status.as_u16()
}

/// A gateway on `redis` with the admin API and one route behind `api-key`.
fn keyed_gateway(redis: &Redis, origin: &Origin) -> Gateway {
    Gateway::start(&format!(
        r#"
{state}

{admin}
[api_keys]

[usage_plans.daily]
quota = 5
quota_period = "day"

[usage_plans.slow]
requests = 4
per_seconds = 60

[plugins.keys]
builtin = "api-key"
role = "authentication"

[[routes]]
id = "api"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{target}"] }}
plugins = [{{ name = "keys" }}]
"#,
        state = redis.state_table(),
        admin = admin_table(),
        target = origin.target(),
    ))
}

/// An admin call that must succeed: its JSON answer.
async fn admin(gateway: &Gateway, method: &str, path: &str, body: &str) -> Value {
    let reply = crate::runtime_admin::admin(gateway, method, path, body.to_string()).await;
    assert!(
        reply.status.is_success(),
        "admin {method} {path}: {}",
        reply.text()
    );
    reply.json()
}

/// The status of a request to `/` carrying the API key `key`.
pub(crate) async fn status_with_key(gateway: &Gateway, key: &str) -> u16 {
    send("GET", &gateway.url("/"), &[("x-api-key", key)], "")
        .await
        .status
        .as_u16()
}

/// Poll each gateway until it answers `status` for `key`; how long it took
/// until all had. A gateway that has answered is not asked again, so each
/// made exactly one request that got `status` (a plan's quota counts it).
async fn until_all(gateways: &[Gateway], key: &str, status: u16) -> Duration {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(10);
    for gateway in gateways {
        while status_with_key(gateway, key).await != status {
            assert!(
                Instant::now() < deadline,
                "not every gateway answered {status} within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_revoked_on_one_gateway_is_refused_by_all() {
    let redis = Redis::start();
    let origin = Origin::start().await;
    let gateways: Vec<Gateway> = (0..3).map(|_| keyed_gateway(&redis, &origin)).collect();

    let created = admin(&gateways[0], "POST", "/keys", r#"{"consumer":"acme"}"#).await;
    let key = created["key"].as_str().expect("the new key").to_string();
    let id = created["id"].as_str().expect("its id").to_string();
    let issued = until_all(&gateways, &key, 200).await;
    println!("a key issued on one gateway was accepted by all three after {issued:?}");

    // Listed by another instance, from Redis.
    let listed = admin(&gateways[2], "GET", "/keys", "").await;
    assert!(listed.to_string().contains(&id), "{listed}");

    admin(&gateways[1], "DELETE", &format!("/keys/{id}"), "").await;
    assert_eq!(
        status_with_key(&gateways[1], &key).await,
        401,
        "refused where revoked, at once"
    );
    let revoked = until_all(&gateways, &key, 401).await;
    println!("a key revoked on one gateway was refused by all three after {revoked:?}");
    assert!(
        revoked <= Duration::from_secs(1),
        "revocation took {revoked:?}"
    );

    // A gateway started later loads the keys from Redis.
    let late = keyed_gateway(&redis, &origin);
    assert_eq!(status_with_key(&late, &key).await, 401);
    let other = admin(&gateways[0], "POST", "/keys", r#"{"consumer":"globex"}"#).await;
    let other = other["key"].as_str().expect("key").to_string();
    until_all(std::slice::from_ref(&late), &other, 200).await;
}

fn metric(gateway_metrics: &str, name: &str) -> Option<f64> {
    gateway_metrics
        .lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_outage_follows_the_failure_setting_and_heals() {
    let mut redis = Redis::start();
    let origin = Origin::start().await;
    let open = limited_gateway(&redis, &origin, 5, "rate_limits_on_error = \"local\"");
    let closed = limited_gateway(
        &redis,
        &origin,
        5,
        &format!("rate_limits_on_error = \"deny\"\n\n{}", admin_table()),
    );
    assert_eq!(get(&open.url("/")).await.status, 200);
    assert_eq!(get(&closed.url("/")).await.status, 200);

    redis.kill();
    // Fail open: this instance's own limit (5) applies.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(get(&open.url("/")).await.status.as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    // Fail closed: 503 with the usual small JSON body, nothing internal.
    let refused = get(&closed.url("/")).await;
    assert_eq!(refused.status, 503);
    assert_eq!(
        refused.json()["error"],
        "the service is temporarily unavailable"
    );
    assert!(!refused.text().contains("redis"), "{}", refused.text());
    // Visible in the logs and metrics.
    assert!(closed.wait_for_log(|line| line.contains("shared state unreachable")));
    let metrics = crate::runtime_admin::admin(&closed, "GET", "/metrics", "")
        .await
        .text();
    assert_eq!(
        metric(
            &metrics,
            "portcullis_state_backend_up{feature=\"rate_limits\"}"
        ),
        Some(0.0),
        "{metrics}"
    );
    assert!(
        metric(
            &metrics,
            "portcullis_state_backend_errors_total{feature=\"rate_limits\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
    redis.restart();

    // Healed without a restart: each instance reaches Redis again (the
    // open one's own limit is spent, so its 200 comes from Redis).
    for gateway in [&closed, &open] {
        let deadline = Instant::now() + Duration::from_secs(10);
        while get(&gateway.url("/")).await.status != 200 {
            assert!(
                Instant::now() < deadline,
                "no recovery within 10 s of Redis coming back"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(closed.wait_for_log(|line| line.contains("shared state reachable again")));
    let metrics = crate::runtime_admin::admin(&closed, "GET", "/metrics", "")
        .await
        .text();
    assert_eq!(
        metric(
            &metrics,
            "portcullis_state_backend_up{feature=\"rate_limits\"}"
        ),
        Some(1.0),
        "{metrics}"
    );

    // Shared limits resume: 5 for both together.
    redis.command(&["FLUSHALL"]).expect("flush");
    let both = [open, closed];
    assert_eq!(allowed_of(&both, 10).await, 5);
}

/// A gateway on `redis` that blocks a client after 3 not-found answers,
/// believing X-Forwarded-For from loopback, with the admin API.
fn guarded_gateway(redis: &Redis, origin: &Origin) -> Gateway {
    Gateway::start_with_server_keys(
        "trusted_proxies = [\"127.0.0.1/32\"]",
        &format!(
            r#"
{state}

{admin}
[threats]
block_seconds = 60
not_found = {{ limit = 3, window_seconds = 60 }}

[[routes]]
id = "api"
path = {{ prefix = "/api" }}
upstream = {{ targets = ["{target}"] }}
"#,
            state = redis.state_table(),
            admin = admin_table(),
            target = origin.target(),
        ),
    )
}

async fn status_from(gateway: &Gateway, client: &str, path: &str) -> u16 {
    send(
        "GET",
        &gateway.url(path),
        &[("x-forwarded-for", client)],
        "",
    )
    .await
    .status
    .as_u16()
}

/// Poll until `gateway` answers `status` to `client`; how long it took.
async fn until_status(gateway: &Gateway, client: &str, status: u16) -> Duration {
    let start = Instant::now();
    while status_from(gateway, client, "/api/x").await != status {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no {status} for {client} within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_blocked_by_one_gateway_is_refused_by_all() {
    let redis = Redis::start();
    let origin = Origin::start().await;
    let first = guarded_gateway(&redis, &origin);
    let second = guarded_gateway(&redis, &origin);
    let client = "203.0.113.77";
    assert_eq!(status_from(&second, client, "/api/x").await, 200);

    // Enumeration on the first gateway trips its detector.
    for _ in 0..3 {
        assert_eq!(status_from(&first, client, "/nothing-here").await, 404);
    }
    assert_eq!(status_from(&first, client, "/api/x").await, 429);
    let spread = until_status(&second, client, 429).await;
    println!("a block set on one gateway reached the other after {spread:?}");
    assert!(spread <= Duration::from_secs(1), "took {spread:?}");
    assert_eq!(
        status_from(&second, "203.0.113.78", "/api/x").await,
        200,
        "others pass"
    );

    // Lifted on the second: served by both again.
    admin(&second, "DELETE", &format!("/blocks/ip:{client}"), "").await;
    until_status(&first, client, 200).await;
    assert_eq!(status_from(&second, client, "/api/x").await, 200);

    // A gateway started later loads the blocks in force.
    for _ in 0..3 {
        status_from(&second, "203.0.113.79", "/nothing-here").await;
    }
    let late = guarded_gateway(&redis, &origin);
    until_status(&late, "203.0.113.79", 429).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plans_quota_and_rate_are_counted_once_across_gateways() {
    let redis = Redis::start();
    let origin = Origin::start().await;
    let gateways: Vec<Gateway> = (0..3).map(|_| keyed_gateway(&redis, &origin)).collect();
    for (plan, limit) in [("daily", 5), ("slow", 4)] {
        let created = admin(
            &gateways[0],
            "POST",
            "/keys",
            &format!(r#"{{"consumer":"acme-{plan}","plan":"{plan}"}}"#),
        )
        .await;
        let key = created["key"].as_str().expect("the new key").to_string();
        until_all(&gateways, &key, 200).await;
        // until_all spent one request on each gateway.
        let mut statuses = Vec::new();
        for i in 0..9 {
            statuses.push(status_with_key(&gateways[i % 3], &key).await);
        }
        let allowed = 3 + statuses.iter().filter(|s| **s == 200).count();
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 429),
            "{statuses:?}"
        );
        assert_eq!(allowed, limit, "plan {plan}: {statuses:?}");
    }
}

/// A gateway on `redis` whose route counts requests in the `counter`
/// plugin's key-value store, of scope `scope`.
fn counting_gateway(redis: &Redis, origin: &Origin, scope: &str) -> Gateway {
    Gateway::start(&format!(
        r#"
{state}

[plugins.counter]
path = "{counter}"
capabilities = ["kv", "log", "clock"]
kv_scope = "{scope}"

[[routes]]
id = "counted"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{target}"] }}
plugins = [{{ name = "counter" }}]
"#,
        state = redis.state_table(),
        counter = fixture("counter").display(),
        target = origin.target(),
    ))
}

async fn count_seen(gateway: &Gateway) -> String {
    let reply = get(&gateway.url("/inspect")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["headers"]["x-request-count"][0]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugins_shared_key_value_store_is_one_store_for_all_gateways() {
    let mut redis = Redis::start();
    let origin = Origin::start().await;
    let shared = [
        counting_gateway(&redis, &origin, "shared"),
        counting_gateway(&redis, &origin, "shared"),
    ];
    let mut counts = Vec::new();
    for i in 0..4 {
        counts.push(count_seen(&shared[i % 2]).await);
    }
    assert_eq!(counts, ["1", "2", "3", "4"], "one count for both gateways");

    // Local scope: each gateway counts on its own.
    let local = [
        counting_gateway(&redis, &origin, "local"),
        counting_gateway(&redis, &origin, "local"),
    ];
    let mut counts = Vec::new();
    for i in 0..4 {
        counts.push(count_seen(&local[i % 2]).await);
    }
    assert_eq!(counts, ["1", "1", "2", "2"]);

    // Redis gone: the plugin is told the store is unavailable (the
    // counter answers 503 then), and nothing of the cause.
    redis.kill();
    let reply = get(&shared[0].url("/inspect")).await;
    assert_eq!(reply.status, 503);
    assert!(!reply.text().contains("redis"), "{}", reply.text());
}

/// A gateway on `redis` whose route runs the counting authorizer (its
/// calls counted per gateway), the decision's call number sent upstream.
fn authorizing_gateway(redis: &Redis, origin: &Origin) -> Gateway {
    Gateway::start(&format!(
        r#"
{state}

[plugins.auth]
path = "{authorizer}"
role = "authorizer"
capabilities = ["kv"]
[plugins.auth.authorizer]
type = "token"
identity_sources = ["header:authorization"]
ttl_s = 60
context_headers = {{ call = "x-call" }}

[[routes]]
id = "api"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{target}"] }}
plugins = [{{ name = "auth" }}]
"#,
        state = redis.state_table(),
        authorizer = fixture("counting-authorizer").display(),
        target = origin.target(),
    ))
}

/// The authorizer call (on whichever gateway) that made the decision.
async fn call_for(gateway: &Gateway, token: &str) -> String {
    let reply = send("GET", &gateway.url("/x"), &[("authorization", token)], "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["headers"]["x-call"][0]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_authorizer_decision_made_on_one_gateway_is_reused_by_another() {
    let redis = Redis::start();
    let origin = Origin::start().await;
    let (first, second) = (
        authorizing_gateway(&redis, &origin),
        authorizing_gateway(&redis, &origin),
    );
    assert_eq!(
        call_for(&second, "zed").await,
        "1",
        "the second's first call"
    );
    assert_eq!(
        call_for(&first, "alice").await,
        "1",
        "the first's first call"
    );
    // The decision is stored without the request waiting: wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stored = redis
            .command(&["KEYS", "portcullis:authz:*"])
            .expect("keys");
        if matches!(&stored, redis::Value::Array(keys) if keys.len() >= 2) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "decisions not stored: {stored:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // alice's allow comes from the first gateway's call; the second's
    // authorizer is not called for it (its next call is its second).
    assert_eq!(call_for(&second, "alice").await, "1");
    assert_eq!(call_for(&second, "yan").await, "2");
    // Nothing of the credential is stored in clear.
    let stored = format!("{:?}", redis.command(&["KEYS", "*"]).expect("keys"));
    assert!(!stored.contains("alice"), "{stored}");
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_over_tls_verified_against_a_configured_ca() {
    let pki = crate::support::pki::Pki::new();
    let leaf = pki.leaf("redis", &["127.0.0.1"]);
    let redis = Redis::start_tls(leaf.cert.clone(), leaf.key.clone(), pki.ca_file());
    let origin = Origin::start().await;
    let ca = format!("tls_ca = {:?}", pki.ca_file().display().to_string());
    let gateways: Vec<Gateway> = (0..2)
        .map(|_| limited_gateway(&redis, &origin, 3, &ca))
        .collect();
    assert_eq!(
        allowed_of(&gateways, 6).await,
        3,
        "one limit, counted over TLS"
    );

    // Without the CA the server's certificate is not trusted: the limit
    // falls back to each instance's own (the default failure setting).
    let untrusting = limited_gateway(&redis, &origin, 3, "");
    for _ in 0..3 {
        assert_eq!(get(&untrusting.url("/")).await.status, 200);
    }
    assert!(untrusting.wait_for_log(|line| line.contains("shared state unreachable")));
}
