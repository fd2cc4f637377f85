//! Shared state through Redis Sentinel: a real primary, a real replica and
//! a real sentinel; the primary is killed, the sentinel promotes the
//! replica, and the gateway moves to it without a restart.

use std::time::{Duration, Instant};

use crate::runtime_admin::{admin, admin_table};
use crate::shared_state::{limited_gateway_on, status_with_key};
use crate::support::redis::{Redis, Sentinel};
use crate::support::{Gateway, Origin, get};

/// A gateway finding its Redis through `sentinel`, with API keys on `/`
/// and a global limit on `/limited`.
fn sentinel_gateway(sentinel: &Sentinel, origin: &Origin) -> Gateway {
    Gateway::start(&format!(
        r#"
[state]
backend = "redis"
timeout_ms = 200
# Every limited request asks Redis, and is refused while it cannot.
lease = 1
rate_limits_on_error = "deny"

[state.sentinel]
addresses = ["{sentinel}"]
master = "shared"

{admin}
[api_keys]

[rate_limits.global]
key = "route"
requests = 1000
per_seconds = 60

[plugins.keys]
builtin = "api-key"
role = "authentication"

[[routes]]
id = "limited"
path = {{ prefix = "/limited" }}
upstream = {{ targets = ["{target}"] }}
rate_limits = ["global"]

[[routes]]
id = "api"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{target}"] }}
plugins = [{{ name = "keys" }}]
"#,
        sentinel = sentinel.url(),
        admin = admin_table(),
        target = origin.target(),
    ))
}

/// Poll `check` every 50 ms until it holds, at most `within`; how long
/// it took.
async fn until<F, R>(within: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> R,
    R: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

/// A new key from the admin API, if the call succeeds.
async fn create_key(gateway: &Gateway, consumer: &str) -> Option<String> {
    let reply = admin(
        gateway,
        "POST",
        "/keys",
        format!(r#"{{"consumer":"{consumer}"}}"#),
    )
    .await;
    if !reply.status.is_success() {
        return None;
    }
    reply.json()["key"].as_str().map(str::to_string)
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_state_follows_a_sentinel_failover() {
    let mut primary = Redis::start();
    let replica = Redis::start_replica_of(&primary);
    let sentinel = Sentinel::start(&primary, "shared", 1);
    let origin = Origin::start().await;
    let gateway = sentinel_gateway(&sentinel, &origin);

    let before = create_key(&gateway, "acme").await.expect("a key");
    until(Duration::from_secs(10), "key accepted", || async {
        status_with_key(&gateway, &before).await == 200
    })
    .await;
    assert_eq!(get(&gateway.url("/limited")).await.status, 200);
    assert!(
        gateway.wait_for_log(|line| line.contains("Redis primary located")
            && line.contains(&primary.port().to_string())),
        "the gateway asked the sentinel for the primary"
    );

    primary.kill();
    let killed = Instant::now();
    assert_eq!(
        get(&gateway.url("/limited")).await.status,
        503,
        "limits fail closed while the primary is gone"
    );
    until(Duration::from_secs(30), "sentinel failover", || async {
        sentinel.primary_port() == Some(replica.port())
    })
    .await;
    println!(
        "the sentinel promoted the replica {:?} after the primary died",
        killed.elapsed()
    );

    // Writes reach the new primary: a key created now is stored there
    // and heard by the gateway's subscription to it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        if let Some(key) = create_key(&gateway, "globex").await {
            break key;
        }
        assert!(
            Instant::now() < deadline,
            "no admin call succeeded on the new primary"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    until(Duration::from_secs(10), "new key accepted", || async {
        status_with_key(&gateway, &after).await == 200
    })
    .await;
    let moved = killed.elapsed();
    println!("the gateway stored and served a key on the new primary {moved:?} after the kill");
    assert!(
        gateway.wait_for_log(|line| line.contains("Redis primary located")
            && line.contains(&replica.port().to_string())),
        "the gateway asked the sentinel again"
    );
    // The key made before the failover was replicated, and still works.
    assert_eq!(status_with_key(&gateway, &before).await, 200);
    // The request path's calls use the new primary: the limit, which
    // fails closed, counts again.
    until(
        Duration::from_secs(10),
        "limit counted on the new primary",
        || async { get(&gateway.url("/limited")).await.status == 200 },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_primary_and_the_sentinels_are_reached_as_their_acl_users() {
    let primary = Redis::start();
    let sentinel = Sentinel::start(&primary, "acl", 0);
    // The sentinel watches the primary as `gateway`, then admits only
    // `watcher` itself; the primary admits only `gateway`.
    sentinel.watch_as("gateway", "primary-secret");
    sentinel.admit_only("watcher", "sentinel-secret");
    primary.admit_only("gateway", "primary-secret");

    let origin = Origin::start().await;
    let state = format!(
        r#"
[state]
backend = "redis"
username = "gateway"
password = "primary-secret"
database = 3
rate_limits_on_error = "deny"
lease = 1

[state.sentinel]
addresses = ["{sentinel}"]
master = "acl"
username = "watcher"
password = "sentinel-secret"
"#,
        sentinel = sentinel.url(),
    );
    let gateway = limited_gateway_on(&state, &origin, 1000);
    // Limits fail closed: a 200 means the call to Redis went through.
    until(
        Duration::from_secs(10),
        "a limited request served",
        || async { get(&gateway.url("/")).await.status == 200 },
    )
    .await;
    assert!(
        !primary.keys_as("gateway", "primary-secret", 3).is_empty(),
        "the limit is kept in database 3"
    );
    assert!(primary.keys_as("gateway", "primary-secret", 0).is_empty());
}
