//! Plugins on the request path: decisions, edits, body phases, host
//! capabilities, and faulty plugins contained.

use std::time::{Duration, Instant};

use crate::support::{Gateway, Origin, fixture, get, send};

fn plugin(name: &str, wasm: &std::path::Path, extra: &str) -> String {
    format!(
        "[plugins.{name}]\npath = {:?}\n{extra}\n",
        wasm.display().to_string()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denial_is_sent_with_the_plugins_status_and_body() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&format!(
        r#"
[plugins.ip-filter]
builtin = "ip-filter"

[[routes]]
id = "closed"
path = {{ prefix = "/closed" }}
upstream = {{ targets = ["{target}"] }}
[[routes.plugins]]
name = "ip-filter"
settings = {{ deny = ["127.0.0.0/8"], status = 451, body = '{{"error":"not here"}}' }}

[[routes]]
id = "open"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{target}"] }}
[[routes.plugins]]
name = "ip-filter"
settings = {{ allow = ["127.0.0.1"], rules = [{{ methods = ["DELETE"], path_prefix = "/admin", action = "deny" }}] }}
"#,
        target = origin.target()
    ));

    let denied = get(&gateway.url("/closed/x")).await;
    assert_eq!(denied.status, 451);
    assert_eq!(&denied.body[..], br#"{"error":"not here"}"#);
    assert_eq!(denied.header("content-type"), Some("application/json"));
    assert!(denied.header("x-request-id").is_some());

    assert_eq!(get(&gateway.url("/admin/users")).await.status, 200);
    let by_rule = send("DELETE", &gateway.url("/admin/users"), &[], "").await;
    assert_eq!(by_rule.status, 403);
    assert_eq!(&by_rule.body[..], br#"{"error":"forbidden"}"#);
    assert_eq!(
        origin.hits(),
        1,
        "denied requests must not reach the upstream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn header_edits_reach_the_upstream_and_the_client() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&format!(
        r#"
[plugins.headers]
builtin = "headers"

[[routes]]
id = "edited"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{}"] }}
[[routes.plugins]]
name = "headers"
settings.request = {{ set = {{ "x-added" = "by-gateway" }}, remove = ["x-internal"], add = {{ "x-multi" = "two" }} }}
settings.response = {{ set = {{ "x-content-type-options" = "nosniff" }}, remove = ["server"] }}
"#,
        origin.target()
    ));
    let reply = send(
        "GET",
        &gateway.url("/inspect"),
        &[("x-internal", "secret"), ("x-multi", "one")],
        "",
    )
    .await;
    let seen = &reply.json()["headers"];
    assert_eq!(seen["x-added"][0], "by-gateway");
    assert!(seen.get("x-internal").is_none(), "{seen}");
    assert_eq!(seen["x-multi"], serde_json::json!(["one", "two"]));
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(reply.header("server"), None);
}

/// One route sending everything to `origin` through the fixture plugin
/// `name`, configured with `extra` keys.
fn all_through(name: &str, extra: &str, origin: &Origin) -> String {
    format!(
        "{}\n[[routes]]\nid = \"through-{name}\"\npath = {{ prefix = \"/\" }}\nupstream = {{ targets = [\"{}\"] }}\nplugins = [{{ name = \"{name}\" }}]\n",
        plugin(name, &fixture(name), extra),
        origin.target()
    )
}

/// One route guarded by the misbehaving fixture, one plain route.
fn misbehaving_routes(origin: &Origin, plugin_extra: &str) -> String {
    format!(
        r#"
{}
[[routes]]
id = "guarded"
path = {{ prefix = "/guarded" }}
upstream = {{ targets = ["{target}"] }}
plugins = [{{ name = "misbehave" }}]

[[routes]]
id = "plain"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{target}"] }}
"#,
        plugin("misbehave", &fixture("misbehave"), plugin_extra),
        target = origin.target()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trapping_plugin_fails_its_request_and_the_next_one_works() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&misbehaving_routes(&origin, ""));

    let trapped = send(
        "GET",
        &gateway.url("/guarded/x"),
        &[("x-misbehave", "trap")],
        "",
    )
    .await;
    assert_eq!(trapped.status, 503);
    assert_eq!(trapped.json()["error"], "a policy could not be evaluated");
    assert!(
        !String::from_utf8_lossy(&trapped.body).contains("panic"),
        "internal text leaked"
    );

    let next = get(&gateway.url("/guarded/x")).await;
    assert_eq!(next.status, 200);
    assert_eq!(next.json()["headers"]["x-misbehave-checked"][0], "yes");
    assert!(gateway.wait_for_log(|l| l.contains("plugin failed") && l.contains("misbehave")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_looping_plugin_times_out_without_stalling_other_routes() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&misbehaving_routes(&origin, "timeout_ms = 500"));

    let url = gateway.url("/guarded/x");
    let looping = tokio::spawn(async move {
        let started = Instant::now();
        let reply = send("GET", &url, &[("x-misbehave", "loop")], "").await;
        (reply.status, started.elapsed())
    });
    // While the guest spins, other requests on the same gateway go through.
    let mut others = Vec::new();
    for i in 0..50 {
        let url = gateway.url(&format!("/plain/{i}"));
        others.push(tokio::spawn(async move { get(&url).await.status }));
    }
    for other in others {
        assert_eq!(other.await.expect("task"), 200);
    }
    let (status, elapsed) = looping.await.expect("task");
    assert_eq!(status, 503);
    assert!(
        elapsed >= Duration::from_millis(450),
        "deadline not honoured: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert_eq!(get(&gateway.url("/guarded/x")).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_looping_plugin_times_out_after_the_gateway_sat_idle() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&misbehaving_routes(&origin, "timeout_ms = 300"));
    assert_eq!(get(&gateway.url("/guarded/x")).await.status, 200);
    // Idle well past the epoch clock's 100 ms threshold, so it has stopped
    // ticking: the next guest must start it again or run unbounded.
    tokio::time::sleep(Duration::from_millis(600)).await;

    let started = Instant::now();
    let url = gateway.url("/guarded/x");
    let looping = send("GET", &url, &[("x-misbehave", "loop")], "");
    let reply = tokio::time::timeout(Duration::from_secs(10), looping)
        .await
        .expect("the looping guest was never stopped");
    let elapsed = started.elapsed();
    assert_eq!(reply.status, 503);
    assert!(
        elapsed >= Duration::from_millis(250),
        "deadline not honoured: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_that_outgrows_its_memory_cap_fails_its_request() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&misbehaving_routes(&origin, "memory_limit_mib = 16"));

    let reply = send(
        "GET",
        &gateway.url("/guarded/x"),
        &[("x-misbehave", "grow")],
        "",
    )
    .await;
    assert_eq!(reply.status, 503);
    assert_eq!(get(&gateway.url("/guarded/x")).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_that_fails_open_is_skipped() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&misbehaving_routes(&origin, "on_error = \"allow\""));
    let reply = send(
        "GET",
        &gateway.url("/guarded/x"),
        &[("x-misbehave", "trap")],
        "",
    )
    .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn body_phases_see_and_rewrite_bodies() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&all_through("shout", "body_budget = 1024", &origin));

    let reply = send("POST", &gateway.url("/echo-body"), &[], "make me loud").await;
    assert_eq!(reply.status, 200);
    assert_eq!(&reply.body[..], b"MAKE ME LOUD");
    assert_eq!(reply.header("x-shouted"), Some("yes"));
    assert_eq!(reply.header("content-length"), Some("12"));

    let refused = send(
        "POST",
        &gateway.url("/echo-body"),
        &[],
        "this is forbidden here",
    )
    .await;
    assert_eq!(refused.status, 422);
    assert_eq!(origin.hits(), 1);

    let too_big = send("POST", &gateway.url("/echo-body"), &[], vec![b'a'; 4096]).await;
    assert_eq!(
        too_big.status, 413,
        "over the body budget, the default is to refuse"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn body_phases_see_only_the_content_types_they_name() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&all_through(
        "shout",
        r#"body_budget = 1024
body_content_types = ["text/*", "application/json"]"#,
        &origin,
    ));
    let text = [("content-type", "text/plain; charset=utf-8")];
    let binary = [("content-type", "application/octet-stream")];

    // Both bodies of a text request to the JSON description are read.
    let read = send("POST", &gateway.url("/inspect"), &text, "make me loud").await;
    assert_eq!(
        read.header("x-shouted"),
        Some("yes"),
        "a JSON response is read"
    );
    assert!(
        read.text().contains("X-REQUEST-BODY-SIZE"),
        "{}",
        read.text()
    );
    // A binary request body is not; the JSON response still is.
    let unread = send("POST", &gateway.url("/inspect"), &binary, "make me loud").await;
    assert_eq!(unread.header("x-shouted"), Some("yes"));
    assert!(
        !unread.text().contains("X-REQUEST-BODY-SIZE"),
        "{}",
        unread.text()
    );

    // `/echo-body` answers without a Content-Type: no range matches it.
    let forbidden = "this is forbidden here";
    assert_eq!(
        send("POST", &gateway.url("/echo-body"), &text, forbidden)
            .await
            .status,
        422
    );
    let passed = send("POST", &gateway.url("/echo-body"), &binary, forbidden).await;
    assert_eq!(passed.status, 200);
    assert_eq!(passed.text(), forbidden, "neither body was read");
    assert_eq!(passed.header("x-shouted"), None);

    // A body the plugin does not read is not buffered for it either, so
    // its budget does not apply.
    let big = vec![b'a'; 4096];
    assert_eq!(
        send("POST", &gateway.url("/echo-body"), &text, big.clone())
            .await
            .status,
        413
    );
    let big_binary = send("POST", &gateway.url("/echo-body"), &binary, big).await;
    assert_eq!(big_binary.status, 200);
    assert_eq!(big_binary.body.len(), 4096);
}

#[tokio::test(flavor = "multi_thread")]
async fn granted_capabilities_work_and_ungranted_ones_refuse_the_load() {
    let origin = Origin::start().await;
    let routes = format!(
        r#"
[[routes]]
id = "counted"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{}"] }}
plugins = [{{ name = "counter" }}]
"#,
        origin.target()
    );
    let granted = plugin(
        "counter",
        &fixture("counter"),
        r#"capabilities = ["kv", "log", "clock"]"#,
    );
    let gateway = Gateway::start(&format!("{granted}{routes}"));
    for expected in 1..=3 {
        let reply = get(&gateway.url("/inspect")).await;
        assert_eq!(
            reply.json()["headers"]["x-request-count"][0],
            expected.to_string()
        );
    }
    assert!(
        gateway
            .wait_for_log(|l| l.contains("\"plugin\":\"counter\"") && l.contains("request 3 at"))
    );

    let not_granted = plugin(
        "counter",
        &fixture("counter"),
        r#"capabilities = ["log", "clock"]"#,
    );
    let output = Gateway::try_start("", &format!("{not_granted}{routes}"))
        .err()
        .expect("load must fail");
    assert!(
        output.contains(
            "imports portcullis:policy/kv@0.1.0, but capability \\\"kv\\\" is not granted"
        ) || output
            .contains("imports portcullis:policy/kv@0.1.0, but capability \"kv\" is not granted"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_for_another_wit_version_is_refused_at_load() {
    let config = format!(
        r#"
{}
[[routes]]
id = "r"
path = {{ prefix = "/" }}
upstream = {{ builtin = "echo" }}
plugins = [{{ name = "future" }}]
"#,
        plugin("future", &fixture("future-wit"), "")
    );
    let output = Gateway::try_start("", &config)
        .err()
        .expect("load must fail");
    assert!(
        output.contains(
            "built for portcullis:policy@0.2.0, but this gateway speaks portcullis:policy@0.1.0"
        ),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn per_request_isolation_gives_every_request_a_fresh_instance() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&all_through(
        "misbehave",
        "pool = { isolation = \"per-request\", prewarm = 2 }",
        &origin,
    ));
    for _ in 0..5 {
        let reply = get(&gateway.url("/x")).await;
        assert_eq!(
            reply.json()["headers"]["x-misbehave-calls"][0],
            "1",
            "an instance was reused"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pooled_instances_are_reused_and_recycled_after_max_uses() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&all_through(
        "misbehave",
        "pool = { max_uses = 3, prewarm = 1, max = 1 }",
        &origin,
    ));
    let mut calls = Vec::new();
    for _ in 0..7 {
        let reply = get(&gateway.url("/x")).await;
        assert_eq!(reply.status, 200);
        calls.push(
            reply.json()["headers"]["x-misbehave-calls"][0]
                .as_str()
                .expect("count")
                .to_string(),
        );
    }
    assert_eq!(calls, ["1", "2", "3", "1", "2", "3", "1"]);
}

/// Each instance lends the guest the same table entries call after call,
/// refilled for each request: one instance per plugin must see each
/// request's own headers and context, and nothing of the one before.
#[tokio::test(flavor = "multi_thread")]
async fn an_instance_sees_each_request_and_nothing_of_the_one_before() {
    let origin = Origin::start().await;
    let one_instance = "pool = { max = 1, prewarm = 1 }";
    let gateway = Gateway::start(&format!(
        "{}{}\n[[routes]]\nid = \"all\"\npath = {{ prefix = \"/\" }}\nupstream = {{ targets = [\"{}\"] }}\nplugins = [{{ name = \"identify\" }}, {{ name = \"show-context\" }}]\n",
        plugin(
            "identify",
            &fixture("identify"),
            &format!("role = \"authentication\"\n{one_instance}")
        ),
        plugin("show-context", &fixture("show-context"), one_instance),
        origin.target()
    ));
    for user in ["alice", "bob", "", "carol", ""] {
        let headers: &[(&str, &str)] = if user.is_empty() {
            &[]
        } else {
            &[("x-user", user)]
        };
        let reply = send("GET", &gateway.url("/who"), headers, "").await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        assert_eq!(
            reply.json()["headers"]["x-context-principal"][0],
            user,
            "the principal the upstream saw for x-user {user:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exhausted_pool_answers_503_after_a_short_wait() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&misbehaving_routes(
        &origin,
        "timeout_ms = 2000\npool = { max = 1, prewarm = 1, acquire_timeout_ms = 200 }",
    ));

    let url = gateway.url("/guarded/x");
    let busy = tokio::spawn(async move {
        send("GET", &url, &[("x-misbehave", "loop")], "")
            .await
            .status
    });
    // Give the looping request time to take the only instance.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let waited = get(&gateway.url("/guarded/y")).await;
    assert_eq!(waited.status, 503);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(180) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );

    assert_eq!(busy.await.expect("task"), 503);
    // The looping instance was discarded and replaced in the background.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = get(&gateway.url("/guarded/z")).await.status;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the pool never recovered");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_failing_open_does_not_skip_the_rest_of_the_chain() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&format!(
        r#"
{}
[plugins.ip-filter]
builtin = "ip-filter"

[[routes]]
id = "chained"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{}"] }}
plugins = [{{ name = "misbehave" }}, {{ name = "ip-filter", settings = {{ deny = ["127.0.0.0/8"] }} }}]
"#,
        plugin("misbehave", &fixture("misbehave"), "on_error = \"allow\""),
        origin.target()
    ));
    for how in ["trap", "bad-status"] {
        let reply = send("GET", &gateway.url("/x"), &[("x-misbehave", how)], "").await;
        assert_eq!(
            reply.status, 403,
            "after a failed-open plugin ({how}), the next one still runs"
        );
    }
    assert_eq!(origin.hits(), 0);
}
