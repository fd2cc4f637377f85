//! The proxy without plugins: bodies, headers, routing, upstream failures.

use std::time::{Duration, Instant};

use crate::support::client::send_h2;
use crate::support::origin::pattern;
use crate::support::{Gateway, Origin, get, send};

const FIVE_MIB: usize = 5 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn large_bodies_are_proxied_intact_both_ways() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&origin.route_all());

    let down = get(&gateway.url(&format!("/bytes/{FIVE_MIB}"))).await;
    assert_eq!(down.status, 200);
    assert_eq!(down.body.len(), FIVE_MIB);
    assert!(down.body == pattern(FIVE_MIB), "GET body differs");

    let upload = pattern(FIVE_MIB).into_iter().rev().collect::<Vec<u8>>();
    let up = send("POST", &gateway.url("/echo-body"), &[], upload.clone()).await;
    assert_eq!(up.status, 200);
    assert!(
        up.body == upload,
        "POST body differs ({} bytes back)",
        up.body.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hop_by_hop_headers_are_removed_in_both_directions() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&origin.route_all());

    let reply = send(
        "GET",
        &gateway.url("/inspect"),
        &[
            ("connection", "x-client-hop"),
            ("x-client-hop", "1"),
            ("te", "trailers"),
            ("x-kept", "yes"),
        ],
        "",
    )
    .await;
    let seen = &reply.json()["headers"];
    assert!(seen.get("x-client-hop").is_none(), "{seen}");
    assert!(seen.get("te").is_none(), "{seen}");
    assert_eq!(seen["x-kept"][0], "yes");

    let reply = get(&gateway.url("/hop")).await;
    assert_eq!(reply.header("x-origin-kept"), Some("1"));
    assert_eq!(reply.header("x-origin-hop"), None);
    assert_eq!(reply.header("keep-alive"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_headers_describe_the_client() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&origin.route_all());

    let reply = send(
        "GET",
        &gateway.url("/inspect"),
        &[("x-forwarded-for", "203.0.113.7")],
        "",
    )
    .await;
    let seen = &reply.json()["headers"];
    assert_eq!(seen["x-forwarded-for"][0], "203.0.113.7, 127.0.0.1");
    assert_eq!(seen["x-forwarded-proto"][0], "http");
    assert_eq!(seen["x-forwarded-host"][0], gateway.addr.to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_are_propagated_or_generated() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&origin.route_all());

    let reply = send(
        "GET",
        &gateway.url("/inspect"),
        &[("x-request-id", "trace-42")],
        "",
    )
    .await;
    assert_eq!(reply.header("x-request-id"), Some("trace-42"));
    assert_eq!(reply.json()["headers"]["x-request-id"][0], "trace-42");

    let reply = get(&gateway.url("/inspect")).await;
    let generated = reply
        .header("x-request-id")
        .expect("generated id")
        .to_string();
    assert_eq!(generated.len(), 32);
    assert_eq!(
        reply.json()["headers"]["x-request-id"][0],
        generated.as_str()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_prior_knowledge_is_served() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&origin.route_all());
    let reply = send_h2("POST", &gateway.url("/echo-body"), "over h2").await;
    assert_eq!(reply.status, 200);
    assert_eq!(&reply.body[..], b"over h2");
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_match_on_host_path_and_method() {
    let origin = Origin::start().await;
    let config = format!(
        r#"
[[routes]]
id = "users"
path = {{ regex = "/users/[0-9]+" }}
methods = ["GET"]
upstream = {{ targets = ["{target}"] }}

[[routes]]
id = "api"
hosts = ["api.example.com"]
path = {{ prefix = "/v1" }}
upstream = {{ targets = ["{target}"], strip_prefix = true }}
"#,
        target = origin.target()
    );
    let gateway = Gateway::start(&config);

    assert_eq!(
        get(&gateway.url("/users/42")).await.json()["path"],
        "/users/42"
    );
    assert_eq!(
        send("POST", &gateway.url("/users/42"), &[], "")
            .await
            .status,
        404
    );
    assert_eq!(get(&gateway.url("/users/42/x")).await.status, 404);

    let stripped = send(
        "GET",
        &gateway.url("/v1/things?a=b"),
        &[("host", "api.example.com")],
        "",
    )
    .await;
    assert_eq!(stripped.json()["path"], "/things");
    assert_eq!(stripped.json()["query"], "a=b");
    assert_eq!(
        get(&gateway.url("/v1/things")).await.status,
        404,
        "wrong host"
    );

    let missing = get(&gateway.url("/nowhere")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("content-type"), Some("application/json"));
    assert_eq!(missing.json()["error"], "no route matches this request");
    assert_eq!(
        missing.json()["request_id"],
        missing.header("x-request-id").expect("id")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_upstream_is_a_502() {
    // Bind then drop a listener: nothing listens on that port now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let gateway = Gateway::start(&format!(
        r#"
[[routes]]
id = "down"
path = {{ prefix = "/" }}
upstream = {{ targets = ["127.0.0.1:{port}"] }}
"#
    ));
    let reply = get(&gateway.url("/")).await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.json()["error"], "upstream unavailable");
    let body = String::from_utf8_lossy(&reply.body);
    assert!(
        !body.contains("refused") && !body.contains("127.0.0.1"),
        "internal detail leaked: {body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_connection_is_retried_on_another_target() {
    let origin = Origin::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let gateway = Gateway::start(&format!(
        r#"
[[routes]]
id = "mixed"
path = {{ prefix = "/" }}
upstream = {{ targets = ["127.0.0.1:{port}", "{}"], retries = 1 }}
"#,
        origin.target()
    ));
    for _ in 0..6 {
        assert_eq!(get(&gateway.url("/inspect")).await.status, 200);
    }
    // A POST is not idempotent and is not retried, but the dead target is
    // ejected after three failures, so it lands on the live one.
    assert_eq!(
        send("POST", &gateway.url("/echo-body"), &[], "x")
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_upstream_is_a_504_after_its_timeout() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&format!(
        r#"
[[routes]]
id = "slow"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{}"], timeout_ms = 300 }}
"#,
        origin.target()
    ));
    let started = Instant::now();
    let reply = get(&gateway.url("/delay/5000")).await;
    assert_eq!(reply.status, 504);
    assert_eq!(reply.json()["error"], "upstream timed out");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_are_refused_with_413() {
    let origin = Origin::start().await;
    let gateway =
        Gateway::start_with_server_keys("max_request_body_bytes = 1024", &origin.route_all());
    let reply = send("POST", &gateway.url("/echo-body"), &[], vec![0u8; 4096]).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["error"], "request body too large");
    assert_eq!(
        send("POST", &gateway.url("/echo-body"), &[], vec![0u8; 1000])
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_echo_upstream_describes_the_request() {
    let gateway = Gateway::start(
        r#"
[[routes]]
id = "echo"
path = { prefix = "/" }
upstream = { builtin = "echo" }
"#,
    );
    let reply = send("POST", &gateway.url("/hello?x=1"), &[("x-test", "1")], "hi").await;
    let echoed = reply.json();
    assert_eq!(echoed["echo"], true);
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["path"], "/hello");
    assert_eq!(echoed["query"], "x=1");
    assert_eq!(echoed["headers"]["x-test"], "1");
    assert_eq!(echoed["body"], "hi");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_upstream_sees_the_host_the_request_was_routed_by() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&format!(
        r#"
[[routes]]
id = "public"
hosts = ["public.example"]
path = {{ prefix = "/" }}
upstream = {{ targets = ["{}"] }}
"#,
        origin.target()
    ));
    // An absolute-form target names one host, the Host header another: the
    // route is chosen by the target, so the upstream must see that host.
    let answer = exchange_raw(
        gateway.addr,
        "GET http://public.example/inspect HTTP/1.1\r\nHost: admin.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""host":["public.example"]"#), "{answer}");

    // A target with no path: the upstream gets `/?x=1`, not the received
    // `?x=1`, which is no request target at all.
    let answer = exchange_raw(
        gateway.addr,
        "GET http://public.example?x=1 HTTP/1.1\r\nHost: public.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""path":"/""#), "{answer}");
    assert!(answer.contains(r#""query":"x=1""#), "{answer}");
}

/// Write `request` as it is on a new connection to `addr` and read the
/// answer until the gateway closes it.
async fn exchange_raw(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("answered in time")
    .expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

/// An upstream that answers a POST at once, before reading its body, and
/// then holds the connection; anything else gets `200 ok`.
async fn early_answering_upstream() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let target = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut head = Vec::new();
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&buf[..n]);
                    let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    if head.starts_with(b"POST") {
                        let _ = stream
                            .write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n")
                            .await;
                        // Hold the connection, reading whatever comes.
                        while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
                        return;
                    }
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                    head.drain(..end + 4);
                }
            });
        }
    });
    target
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_never_waits_behind_another_clients_unfinished_upload() {
    use tokio::io::AsyncWriteExt;
    let target = early_answering_upstream().await;
    let gateway = Gateway::start(&format!(
        r#"
[[routes]]
id = "early"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{target}"], timeout_ms = 5000 }}
"#
    ));
    // A client starts an upload and stalls; the upstream refuses it at
    // once, so the response ends while the upload has not.
    let mut stalled = tokio::net::TcpStream::connect(gateway.addr)
        .await
        .expect("connect");
    stalled
        .write_all(b"POST /upload HTTP/1.1\r\nhost: a\r\ncontent-length: 100000\r\n\r\nfirst bytes")
        .await
        .expect("write");
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read(&mut stalled, &mut answer),
    )
    .await
    .expect("the early answer arrives")
    .expect("read");
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 401"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    // That upstream connection is still busy with the upload: the next
    // request must not be queued behind it.
    let started = Instant::now();
    let reply = get(&gateway.url("/next")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "waited {:?}",
        started.elapsed()
    );
    drop(stalled);
}
