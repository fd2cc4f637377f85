//! Logs and metrics through the gateway: one JSON access line per request
//! with what happened; no credential in any line the gateway prints; the
//! audit stream apart; Prometheus metrics that `promtool check metrics`
//! accepts.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::runtime_admin::{admin, admin_table};
use crate::support::{Gateway, Origin, fixture, send};

/// Credentials the tests send; none may appear in any log line.
const SECRETS: [&str; 5] = [
    "bearer-secret-1f0c",
    "cookie-secret-77aa",
    "apikey-secret-93b2",
    "query-secret-5d1e",
    "form-secret-0b44",
];

fn config(origin: &Origin, logging: &str) -> String {
    format!(
        r#"
{admin}
{logging}

[plugins.show-context]
path = "{show_context}"

[plugins.misbehave]
path = "{misbehave}"

[[routes]]
id = "api"
path = {{ prefix = "/api" }}
upstream = {{ targets = ["{target}"] }}
plugins = [{{ name = "misbehave" }}, {{ name = "show-context" }}]
"#,
        admin = admin_table(),
        show_context = fixture("show-context").display(),
        misbehave = fixture("misbehave").display(),
        target = origin.target(),
    )
}

fn access_lines(gateway: &Gateway) -> Vec<Value> {
    gateway
        .logs()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["log"] == "access")
        .collect()
}

/// Poll (up to 10 s) until `count` access lines were written.
fn wait_for_access_lines(gateway: &Gateway, count: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let lines = access_lines(gateway);
        if lines.len() >= count || started.elapsed() > Duration::from_secs(10) {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn every_request_gets_an_access_line_and_no_line_holds_a_credential() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&config(&origin, ""));
    let bearer = format!("Bearer {}", SECRETS[0]);
    let cookie = format!("session={}", SECRETS[1]);
    let reply = send(
        "POST",
        &gateway.url(&format!("/api/orders?access_token={}&page=2", SECRETS[3])),
        &[
            ("authorization", bearer.as_str()),
            ("cookie", cookie.as_str()),
            ("x-api-key", SECRETS[2]),
            ("x-forwarded-for", "203.0.113.9"),
        ],
        format!("password={}", SECRETS[4]),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let trapped = send(
        "GET",
        &gateway.url("/api/x"),
        &[("x-misbehave", "trap")],
        "",
    )
    .await;
    assert_eq!(trapped.status, 503);
    assert_eq!(
        send("GET", &gateway.url("/nowhere"), &[], "").await.status,
        404
    );
    let admin_call = admin(&gateway, "GET", "/routes", "").await;
    assert_eq!(admin_call.status, 200);

    let lines = wait_for_access_lines(&gateway, 3);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let ok = &lines[0];
    for field in [
        "time",
        "request_id",
        "client_ip",
        "method",
        "path",
        "route",
        "status",
        "bytes_in",
        "bytes_out",
        "duration_us",
        "upstream_us",
        "principal",
        "country",
        "deny_reason",
        "plugins",
    ] {
        assert!(ok.get(field).is_some(), "{field} in {ok}");
    }
    assert_eq!(ok["method"], "POST");
    assert_eq!(ok["route"], "api");
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["path"], "/api/orders?access_token=REDACTED&page=2");
    assert_eq!(ok["bytes_in"], 9 + SECRETS[4].len());
    assert!(ok["bytes_out"].as_u64() > Some(0));
    assert!(ok["upstream_us"].as_u64().is_some());
    assert_eq!(ok["request_id"], reply.header("x-request-id").unwrap_or(""));
    let plugins = ok["plugins"].as_array().expect("plugins");
    assert_eq!(plugins[0]["name"], "misbehave");
    assert_eq!(plugins[0]["phase"], "request-headers");
    assert_eq!(plugins[0]["outcome"], "allow");
    assert!(plugins[0]["us"].as_u64().is_some());

    assert_eq!(lines[1]["status"], 503);
    assert_eq!(lines[1]["plugins"][0]["outcome"], "error");
    assert_eq!(lines[1]["deny_reason"], "plugin_failed");
    assert_eq!(lines[2]["status"], 404);
    assert_eq!(lines[2]["route"], Value::Null);

    for line in gateway.logs() {
        for secret in SECRETS {
            assert!(!line.contains(secret), "{secret} logged: {line}");
        }
        assert!(
            !line.contains(crate::runtime_admin::ADMIN_TOKEN),
            "the admin token logged: {line}"
        );
    }
}

#[tokio::test]
async fn the_audit_log_is_a_stream_of_its_own_and_access_lines_can_be_sampled() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let audit = dir.path().join("audit.log");
    let gateway = Gateway::start(&config(
        &origin,
        &format!(
            "[logging]\naudit = {:?}\naccess_sample = 0.25",
            audit.display().to_string()
        ),
    ));
    assert_eq!(admin(&gateway, "GET", "/plugins", "").await.status, 200);
    for _ in 0..8 {
        assert_eq!(
            send("GET", &gateway.url("/api/x"), &[], "").await.status,
            200
        );
    }
    for _ in 0..3 {
        assert_eq!(
            send("GET", &gateway.url("/nowhere"), &[], "").await.status,
            404
        );
    }
    let lines = wait_for_access_lines(&gateway, 5);
    let ok = lines.iter().filter(|l| l["status"] == 200).count();
    let missing = lines.iter().filter(|l| l["status"] == 404).count();
    assert_eq!((ok, missing), (2, 3), "one in four successes, every error");

    let started = Instant::now();
    let mut text = String::new();
    while !text.contains("\"admin call\"") && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
        text = std::fs::read_to_string(&audit).unwrap_or_default();
    }
    let call: Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "admin call")
        .expect("the admin call is in the audit file");
    assert_eq!(call["log"], "audit");
    assert_eq!(call["who"], "admin-token");
    assert_eq!(call["path"], "/plugins");
    assert!(
        !gateway.logs().iter().any(|l| l.contains("\"admin call\"")),
        "audit lines go to the audit file only"
    );
}

#[tokio::test]
async fn metrics_count_requests_plugins_and_failures_in_prometheus_format() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&config(&origin, ""));
    for _ in 0..3 {
        assert_eq!(
            send("GET", &gateway.url("/api/x"), &[], "").await.status,
            200
        );
    }
    send(
        "GET",
        &gateway.url("/api/x"),
        &[("x-misbehave", "trap")],
        "",
    )
    .await;
    let metrics = admin(&gateway, "GET", "/metrics", "").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/plain")
    );
    let text = metrics.text();
    for expected in [
        "portcullis_requests_total{route=\"api\",method=\"GET\",status=\"200\"} 3",
        "portcullis_requests_total{route=\"api\",method=\"GET\",status=\"503\"} 1",
        "portcullis_plugin_calls_total{plugin=\"misbehave\",phase=\"request-headers\",outcome=\"error\"} 1",
        "portcullis_plugin_calls_total{plugin=\"show-context\",phase=\"request-headers\",outcome=\"allow\"} 3",
        "portcullis_request_duration_seconds_count{route=\"api\"} 4",
        "portcullis_plugin_breaker_open{plugin=\"misbehave\"} 0",
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
    assert!(text.contains("portcullis_plugin_instances{plugin=\"show-context\"}"));
    let unauthenticated = send("GET", &format!("{}/metrics", gateway.admin_url()), &[], "").await;
    assert_eq!(unauthenticated.status, 401);

    // promtool comes with Debian's prometheus package (.ci/run installs it).
    let Ok(mut promtool) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        panic!("promtool is not installed (Debian package prometheus)");
    };
    use std::io::Write;
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let output = promtool.wait_with_output().expect("promtool");
    assert!(
        output.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
