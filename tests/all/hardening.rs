//! Connection-level protections: slow clients, oversized heads, caps.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Gateway, Origin, get, send};

/// Read until the peer closes; what was read, or `None` if it stays open
/// past `bound`.
async fn read_until_closed(stream: &mut TcpStream, bound: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + bound;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_too_slow_to_send_its_headers_is_cut_off() {
    let origin = Origin::start().await;
    let gateway =
        Gateway::start_with_server_keys("header_read_timeout_ms = 300", &origin.route_all());

    let mut slow = TcpStream::connect(gateway.addr).await.expect("connect");
    slow.write_all(b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Slow: ")
        .await
        .expect("write");
    let started = Instant::now();
    let closed = read_until_closed(&mut slow, Duration::from_secs(10)).await;
    assert!(closed.is_some(), "the slow connection was left open");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "closed too early: {:?}",
        started.elapsed()
    );
    assert_eq!(origin.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_request_head_gets_431() {
    let origin = Origin::start().await;
    let gateway = Gateway::start_with_server_keys("max_header_bytes = 16384", &origin.route_all());

    let big = "a".repeat(20_000);
    let mut stream = TcpStream::connect(gateway.addr).await.expect("connect");
    let request = format!("GET / HTTP/1.1\r\nHost: example.com\r\nX-Big: {big}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let answer = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_eq!(origin.hits(), 0);

    let normal = send("GET", &gateway.url("/"), &[("x-small", "ok")], "").await;
    assert_eq!(normal.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_past_the_per_address_cap_are_closed() {
    let origin = Origin::start().await;
    let gateway =
        Gateway::start_with_server_keys("max_connections_per_ip = 2", &origin.route_all());

    let first = TcpStream::connect(gateway.addr).await.expect("connect");
    let _second = TcpStream::connect(gateway.addr).await.expect("connect");
    let mut third = TcpStream::connect(gateway.addr).await.expect("connect");
    let closed = read_until_closed(&mut third, Duration::from_secs(10)).await;
    assert_eq!(
        closed,
        Some(Vec::new()),
        "the third connection must be closed unanswered"
    );

    drop(first);
    // The freed place is reusable once the gateway has seen the close.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = gateway.url("/");
        let attempt = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::spawn(async move { get(&url).await.status }),
        )
        .await;
        if let Ok(Ok(status)) = attempt
            && status == 200
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no connection was admitted after one closed"
        );
    }
}

fn small_body_route(origin: &Origin) -> String {
    format!(
        r#"
[[routes]]
id = "small"
path = {{ prefix = "/" }}
max_body_bytes = 1024
upstream = {{ targets = ["{}"] }}
"#,
        origin.target()
    )
}

/// Send raw bytes, read until the gateway closes or `bound` passes.
async fn exchange(gateway: &Gateway, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(gateway.addr).await.expect("connect");
    stream.write_all(raw).await.expect("write");
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    String::from_utf8_lossy(&answer.unwrap_or_default()).into_owned()
}

fn chunked(size: usize) -> Vec<u8> {
    let mut raw = b"POST /echo-body HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..size / 256 {
        raw.extend_from_slice(b"100\r\n");
        raw.extend_from_slice(&[b'x'; 256]);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    raw
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_chunked_body_is_refused_before_the_upstream_sees_it() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&small_body_route(&origin));

    let refused = exchange(&gateway, &chunked(2048)).await;
    assert!(refused.starts_with("HTTP/1.1 413"), "{refused}");
    assert_eq!(
        origin.hits(),
        0,
        "the upstream saw part of an oversized body"
    );

    let accepted = exchange(&gateway, &chunked(512)).await;
    assert!(accepted.starts_with("HTTP/1.1 200"), "{accepted}");
    assert!(accepted.ends_with(&"x".repeat(512)), "{accepted}");
}

#[tokio::test(flavor = "multi_thread")]
async fn expect_100_continue_is_refused_without_reading_the_body() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&small_body_route(&origin));

    // Headers only: the body would follow a 100 Continue that never comes.
    let too_big = exchange(
        &gateway,
        b"POST /echo-body HTTP/1.1\r\nHost: example.com\r\nContent-Length: 4096\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(too_big.starts_with("HTTP/1.1 413"), "{too_big}");
    assert!(!too_big.contains("100 Continue"), "{too_big}");

    let unknown = exchange(
        &gateway,
        b"POST /echo-body HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2\r\nExpect: 200-ok\r\nConnection: close\r\n\r\nhi",
    )
    .await;
    assert!(unknown.starts_with("HTTP/1.1 417"), "{unknown}");
    assert_eq!(origin.hits(), 0);
}
