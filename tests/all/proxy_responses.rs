//! Upstream responses however they are framed: by length, in chunks with
//! trailers, until the connection closes; ambiguous ones refused; and
//! keep-alive connections reused, or replaced when the upstream closed
//! them.

use crate::support::client::send_h2;
use crate::support::raw::exchange;
use crate::support::scripted::Scripted;
use crate::support::{Gateway, get, send};

fn length_delimited(_: &str) -> (Vec<u8>, bool) {
    (
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello".to_vec(),
        false,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_connections_are_kept_alive_between_requests() {
    let upstream = Scripted::start(length_delimited).await;
    let gateway = Gateway::start(&upstream.route_all());

    for _ in 0..20 {
        let reply = get(&gateway.url("/")).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.text(), "hello");
    }
    assert_eq!(upstream.accepted(), 1, "one connection carries them all");
}

fn by_path(head: &str) -> (Vec<u8>, bool) {
    let path = head.split(' ').nth(1).unwrap_or("/");
    let answer: &[u8] = match path {
        "/chunked" => {
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;note=x\r\nhello\r\n7\r\n, world\r\n0\r\nx-digest: 42\r\n\r\n"
        }
        "/until-close" => {
            return (b"HTTP/1.1 200 OK\r\n\r\nread until the close".to_vec(), true);
        }
        "/informational" => {
            b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
        }
        "/reason" => b"HTTP/1.1 200 Fine Indeed\r\ncontent-length: 2\r\n\r\nok",
        "/two-lengths" => b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!",
        "/bare-lf-chunk" => b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
        _ => b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nend",
    };
    (answer.to_vec(), false)
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_close_delimited_and_informational_responses_arrive_whole() {
    let upstream = Scripted::start(by_path).await;
    let gateway = Gateway::start(&upstream.route_all());

    let chunked = get(&gateway.url("/chunked")).await;
    assert_eq!(
        (chunked.status.as_u16(), chunked.text().as_str()),
        (200, "hello, world")
    );
    let until_close = get(&gateway.url("/until-close")).await;
    assert_eq!(
        (until_close.status.as_u16(), until_close.text().as_str()),
        (200, "read until the close")
    );
    let informational = get(&gateway.url("/informational")).await;
    assert_eq!(
        (informational.status.as_u16(), informational.text().as_str()),
        (200, "ok")
    );
    // The chunked body was read to its end: its connection was reused.
    let after = get(&gateway.url("/")).await;
    assert_eq!(after.text(), "end");
    // An unusual reason phrase reaches the client as sent.
    let reason = exchange(
        &gateway,
        b"GET /reason HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(
        reason.starts_with("HTTP/1.1 200 Fine Indeed\r\n"),
        "{reason:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_two_parsers_could_read_differently_are_a_502() {
    let upstream = Scripted::start(by_path).await;
    let gateway = Gateway::start(&upstream.route_all());

    let two_lengths = get(&gateway.url("/two-lengths")).await;
    assert_eq!(two_lengths.status, 502);
    assert!(
        !two_lengths.text().contains("content-length"),
        "no internal detail: {}",
        two_lengths.text()
    );
    // The head was fine; the body's framing is not: the client's response
    // is cut off rather than completed with bytes no one can vouch for.
    let bare_lf = exchange(
        &gateway,
        b"GET /bare-lf-chunk HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(
        !bare_lf.contains("hello") && !bare_lf.ends_with("0\r\n\r\n"),
        "{bare_lf:?}"
    );
}

fn one_request_per_connection(_: &str) -> (Vec<u8>, bool) {
    // Says nothing of closing, then closes: the connection looks reusable
    // and is dead by the time the next request comes.
    (
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec(),
        true,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_connection_the_upstream_closed_is_replaced_unseen() {
    let upstream = Scripted::start(one_request_per_connection).await;
    let gateway = Gateway::start(&upstream.route_all());

    for i in 0..10 {
        let reply = get(&gateway.url("/")).await;
        assert_eq!(
            (reply.status.as_u16(), reply.text().as_str()),
            (200, "ok"),
            "request {i}"
        );
    }
    assert_eq!(upstream.accepted(), 10);
}

fn head_answer(head: &str) -> (Vec<u8>, bool) {
    if head.starts_with("HEAD ") {
        // The length of the body a GET would get; no body follows.
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n".to_vec(),
            false,
        )
    } else {
        length_delimited(head)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_head_response_has_no_body_and_frees_its_connection() {
    let upstream = Scripted::start(head_answer).await;
    let gateway = Gateway::start(&upstream.route_all());

    let head = send("HEAD", &gateway.url("/"), &[], "").await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("100"));
    let next = get(&gateway.url("/")).await;
    assert_eq!(next.text(), "hello");
    assert_eq!(upstream.accepted(), 1);
}

static CRASHES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn crash_on_request(head: &str) -> (Vec<u8>, bool) {
    if head.starts_with("GET /crash ") {
        // Seen, then the connection closed with no answer.
        CRASHES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        return (Vec::new(), true);
    }
    length_delimited(head)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_the_upstream_closed_on_is_sent_again_once_at_most() {
    let upstream = Scripted::start(crash_on_request).await;
    let gateway = Gateway::start(&upstream.route_all());
    // Several kept connections, each of which could take the request.
    let urls: Vec<String> = (0..16).map(|_| gateway.url("/")).collect();
    for reply in futures_util::future::join_all(urls.iter().map(|url| get(url))).await {
        assert_eq!(reply.status, 200);
    }
    assert!(
        upstream.accepted() >= 3,
        "only {} connections",
        upstream.accepted()
    );

    let reply = get(&gateway.url("/crash")).await;
    assert_eq!(reply.status, 502);
    assert_eq!(CRASHES.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// Sockets in CLOSE_WAIT (the peer closed, this side has not) whose peer
/// is `port` on this machine.
fn close_waits_towards(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let remote_port = fields
                .get(2)
                .and_then(|remote| remote.split(':').nth(1))
                .and_then(|hex| u16::from_str_radix(hex, 16).ok());
            remote_port == Some(port) && fields.get(3) == Some(&"08")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_connection_the_upstream_closes_is_let_go_while_idle() {
    let upstream = Scripted::start(one_request_per_connection).await;
    let gateway = Gateway::start(&upstream.route_all());

    let reply = get(&gateway.url("/")).await;
    assert_eq!(reply.status, 200);
    // The upstream closes the connection the gateway keeps...
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while close_waits_towards(upstream.addr.port()) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the kept connection was never seen closed by the upstream"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // ...and with no further request, the gateway closes its side.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while close_waits_towards(upstream.addr.port()) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway still holds a connection the upstream closed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn many_fields(_: &str) -> (Vec<u8>, bool) {
    (
        b"HTTP/1.1 200 OK\r\nServer: origin\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-Request-Id: from-upstream\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 5\r\nDate: Mon, 30 Nov 2026 15:00:00 GMT\r\n\r\nhello"
            .to_vec(),
        false,
    )
}

/// How many lines of `head` are a `name` field, in any case.
fn count_fields(head: &str, name: &str) -> usize {
    head.split("\r\n")
        .filter(|line| {
            line.split_once(':')
                .is_some_and(|(field, _)| field.eq_ignore_ascii_case(name))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_fields_reach_clients_of_either_protocol_and_plugins() {
    let upstream = Scripted::start(many_fields).await;
    let gateway = Gateway::start(&format!(
        r#"
[plugins.headers]
builtin = "headers"

[[routes]]
id = "edited"
path = {{ prefix = "/edited" }}
upstream = {{ targets = ["{0}"] }}
[[routes.plugins]]
name = "headers"
settings.response = {{ remove = ["server"] }}

[[routes]]
id = "plain"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{0}"] }}
"#,
        upstream.addr
    ));

    // HTTP/1.1: the fields as the upstream wrote them, less its
    // connection's own, with the gateway's request id in place of its.
    let answer = exchange(
        &gateway,
        b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n",
    )
    .await;
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
    assert_eq!(body, "hello");
    for line in [
        "Server: origin",
        "Set-Cookie: a=1",
        "Set-Cookie: b=2",
        "content-length: 5",
        "Date: Mon, 30 Nov 2026 15:00:00 GMT",
        "connection: close",
    ] {
        assert!(head.contains(&format!("\r\n{line}")), "{line}: {head}");
    }
    for (name, count) in [
        ("date", 1),
        ("content-length", 1),
        ("connection", 1),
        ("keep-alive", 0),
        ("x-request-id", 1),
    ] {
        assert_eq!(count_fields(head, name), count, "{name}: {head}");
    }
    assert!(!head.contains("from-upstream"), "{head}");

    // HTTP/2: the same fields, from hyper's map.
    let reply = send_h2("GET", &gateway.url("/"), "").await;
    assert_eq!(reply.header("server"), Some("origin"));
    let cookies: Vec<_> = reply.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(reply.headers.get_all("x-request-id").iter().count(), 1);
    assert_ne!(reply.header("x-request-id"), Some("from-upstream"));
    assert_eq!(reply.header("keep-alive"), None);
    assert_eq!(reply.header("content-length"), Some("5"));

    // A response-phase plugin sees and edits them.
    let edited = get(&gateway.url("/edited")).await;
    assert_eq!(edited.text(), "hello");
    assert_eq!(edited.header("server"), None);
    assert_eq!(edited.headers.get_all("set-cookie").iter().count(), 2);
    assert_ne!(edited.header("x-request-id"), Some("from-upstream"));
}
