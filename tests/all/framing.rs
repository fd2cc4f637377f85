//! Request smuggling: requests whose framing two HTTP parsers could read
//! differently must not reach the upstream as something else.

use crate::support::raw::exchange;
use crate::support::{Gateway, Origin};

#[tokio::test(flavor = "multi_thread")]
async fn ambiguous_framing_is_refused_with_400_and_the_connection_closed() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&origin.route_all());

    let attempts: [(&str, &[u8]); 8] = [
        (
            "two different Content-Lengths",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        ),
        (
            "a list of Content-Lengths",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!",
        ),
        (
            "a folded header (obs-fold)",
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n",
        ),
        (
            "whitespace before the colon",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello",
        ),
        (
            "chunked not last in Transfer-Encoding",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        ),
        (
            "an unknown transfer coding",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "two Host headers",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
        ),
        (
            "Transfer-Encoding in HTTP/1.0",
            b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
    ];
    for (what, raw) in attempts {
        let answer = exchange(&gateway, raw).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{what}: {answer}");
    }
    assert_eq!(
        origin.hits(),
        0,
        "an ambiguous request reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn content_length_with_transfer_encoding_cannot_smuggle_a_second_request() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&origin.route_all());

    // A front end that believes Content-Length would see one request with a
    // 48-byte body; one that believes Transfer-Encoding sees an empty body
    // followed by `GET /smuggled`. The gateway frames by Transfer-Encoding
    // (RFC 9112 §6.3), never forwards the Content-Length, and closes the
    // connection after answering, so the tail is never read as a request.
    for order in [
        "Content-Length: 48\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 48\r\n",
    ] {
        let raw = format!(
            "POST /echo-body HTTP/1.1\r\nHost: a\r\n{order}\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
        );
        let answer = exchange(&gateway, raw.as_bytes()).await;
        assert_eq!(
            answer.matches("HTTP/1.1 ").count(),
            1,
            "more than one response: {answer}"
        );
        let head = answer.to_ascii_lowercase();
        assert!(head.contains("connection: close"), "{answer}");
    }
    assert_eq!(
        origin.hits(),
        2,
        "the smuggled request reached the upstream"
    );
}
