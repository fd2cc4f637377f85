//! Connection-level protections: slow clients, oversized heads, caps.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::client::get_until_ok;
use crate::support::raw::{exchange, read_until_closed};
use crate::support::{Gateway, Origin, get, send};

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
async fn a_client_pausing_inside_a_download_is_not_taken_for_a_slow_head() {
    let origin = Origin::start().await;
    let gateway =
        Gateway::start_with_server_keys("header_read_timeout_ms = 300", &origin.route_all());

    let size = 30_000_000;
    let mut stream = TcpStream::connect(gateway.addr).await.expect("connect");
    stream
        .write_all(
            format!("GET /bytes/{size} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .expect("write");
    let mut first = vec![0u8; 65536];
    let read = stream.read(&mut first).await.expect("read");
    // The client stops reading for four head timeouts while its response
    // is still being sent: no request head is due then.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let rest = read_until_closed(&mut stream, Duration::from_secs(30))
        .await
        .expect("the download never ended");
    let answer = [&first[..read], &rest[..]].concat();
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    assert_eq!(answer.len() - head_end, size, "the download was cut short");
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
    assert!(
        get_until_ok(&gateway.url("/"), Duration::from_secs(10)).await,
        "no connection was admitted after one closed"
    );
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

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_keep_alive_connection_is_closed_but_a_slow_upstream_is_waited_for() {
    let origin = Origin::start().await;
    let gateway = Gateway::start_with_server_keys(
        "idle_timeout_ms = 300\nheader_read_timeout_ms = 60000",
        &origin.route_all(),
    );

    // The upstream takes longer than the idle timeout: a request in flight
    // keeps its connection.
    let mut stream = TcpStream::connect(gateway.addr).await.expect("connect");
    stream
        .write_all(b"GET /delay/900 HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let answer = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("the idle connection was left open");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("done"), "{answer}");
    // Then it sat idle and was closed.
    assert!(started.elapsed() >= Duration::from_millis(1100));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_over_the_total_timeout_gets_504() {
    let origin = Origin::start().await;
    let gateway = Gateway::start_with_server_keys("request_timeout_ms = 300", &origin.route_all());

    let started = Instant::now();
    let reply = get(&gateway.url("/delay/5000")).await;
    assert_eq!(reply.status, 504);
    assert_eq!(reply.json()["error"], "request timed out");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(get(&gateway.url("/delay/10")).await.status, 200);
}
