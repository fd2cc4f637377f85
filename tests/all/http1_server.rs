//! The gateway's own HTTP/1.1 server serves bodiless requests and hands
//! a connection to hyper at the first request it does not serve: one
//! connection may see both, and a client must not be able to tell.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::client::get_until_ok;
use crate::support::raw::read_until_closed;
use crate::support::{Gateway, Origin};

/// The answers in `seen`, split at each status line, as text (a binary
/// body's bytes replaced).
fn answers(seen: &[u8]) -> Vec<(String, usize)> {
    let starts: Vec<usize> = (0..seen.len())
        .filter(|&at| seen[at..].starts_with(b"HTTP/1.1 "))
        .chain(std::iter::once(seen.len()))
        .collect();
    starts
        .windows(2)
        .map(|pair| {
            let answer = &seen[pair[0]..pair[1]];
            let body_length = answer
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(0, |end| answer.len() - end - 4);
            (String::from_utf8_lossy(answer).into_owned(), body_length)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pipelined_requests_are_answered_in_order_across_the_hand_over_to_hyper() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&origin.route_all());
    let mut stream = TcpStream::connect(gateway.addr).await.expect("connect");
    // Two bodiless requests, one with a body (hyper's from here on), one
    // more bodiless, the last asking to close: all in one write.
    stream
        .write_all(
            b"GET /first HTTP/1.1\r\nHost: a\r\n\r\n\
              HEAD /bytes/300 HTTP/1.1\r\nHost: a\r\n\r\n\
              POST /echo-body HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
              GET /bytes/100000 HTTP/1.1\r\nHost: a\r\n\r\n\
              GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .await
        .expect("write");
    let seen = read_until_closed(&mut stream, Duration::from_secs(30))
        .await
        .expect("the gateway closes after the request that asked it to");
    let text = String::from_utf8_lossy(&seen);
    let answers = answers(&seen);
    assert_eq!(answers.len(), 5, "{text}");
    for (answer, _) in &answers {
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("\r\ndate: "), "{answer}");
        assert!(answer.contains("\r\nx-request-id: "), "{answer}");
    }
    let answer = |i: usize| answers[i].0.as_str();
    assert!(answer(0).contains("\"path\":\"/first\""), "{}", answer(0));
    // HEAD: the length a GET would have, no body.
    assert!(
        answer(1).contains("\r\ncontent-length: 300\r\n"),
        "{}",
        answer(1)
    );
    assert_eq!(answers[1].1, 0, "{}", answer(1));
    assert!(answer(2).ends_with("\r\n\r\nhello"), "{}", answer(2));
    assert_eq!(answers[3].1, 100_000, "the whole body arrived");
    assert!(answer(4).contains("\"path\":\"/last\""), "{}", answer(4));
    assert!(
        answer(4).contains("\r\nconnection: close\r\n"),
        "{}",
        answer(4)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_answer_to_a_bodiless_request_is_framed_and_the_connection_kept() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&origin.route_all());
    let mut stream = TcpStream::connect(gateway.addr).await.expect("connect");
    // No Host: the gateway's own 400; then a good request on the same
    // connection, which closes.
    stream
        .write_all(
            b"GET / HTTP/1.1\r\n\r\n\
              GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .await
        .expect("write");
    let seen = read_until_closed(&mut stream, Duration::from_secs(30))
        .await
        .expect("closed after the second answer");
    let text = String::from_utf8_lossy(&seen);
    let answers = answers(&seen);
    assert_eq!(answers.len(), 2, "{text}");
    assert!(
        answers[0].0.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{text}"
    );
    let (head, body) = answers[0].0.split_once("\r\n\r\n").expect("a head");
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .expect("a length")
        .parse()
        .expect("a number");
    assert_eq!(body.len(), length, "{text}");
    assert!(body.starts_with('{'), "a JSON body: {body}");
    assert!(answers[1].0.contains("\"path\":\"/after\""), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_goes_away_cancels_its_request_and_frees_its_place() {
    let origin = Origin::start().await;
    // One connection per address: the next client is served only once the
    // first connection's task has ended.
    let gateway =
        Gateway::start_with_server_keys("max_connections_per_ip = 1", &origin.route_all());
    let mut first = TcpStream::connect(gateway.addr).await.expect("connect");
    first
        .write_all(b"GET /delay/20000 HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .expect("write");
    let deadline = Instant::now() + Duration::from_secs(10);
    while origin.hits() == 0 {
        assert!(
            Instant::now() < deadline,
            "the request never reached the upstream"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(first);
    // Served well before the upstream would have answered the first.
    assert!(
        get_until_ok(&gateway.url("/"), Duration::from_secs(15)).await,
        "the abandoned request kept its connection's place"
    );
}
