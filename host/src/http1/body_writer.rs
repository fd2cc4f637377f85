//! Writing a response: its head, then its body as the head framed it.
//!
//! The head and the body's first frames go out in one write when the
//! body has them ready; a frame that is not ready yet sends what is
//! buffered first, so a slow upstream never holds back bytes already
//! here.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::Poll;

use bytes::Bytes;
use http::Method;
use http_body::{Body, Frame};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::response_head::{self, Framing};
use crate::body::{BodyError, BoxBody};
use crate::reply::Reply;

/// Data frames up to this size are copied next to the head (or the
/// chunk line); larger ones are written on their own.
const COPY_LIMIT: usize = 16 * 1024;
/// What is waiting is written once it passes this: a body whose frames
/// keep coming (an upstream read in this same task) must not pile up in
/// memory for a slow client.
const MAX_WAITING: usize = 64 * 1024;

/// What a failed head gets instead: hyper's answer to a response it
/// cannot encode is to close the connection; a client is better off told.
const CANNOT_ENCODE: &[u8] =
    b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// Write `reply` to a `method` request; whether the connection must
/// close after it.
pub async fn write_response<I>(
    io: &mut I,
    out: &mut Vec<u8>,
    method: &Method,
    reply: Reply,
    keep_alive: bool,
) -> io::Result<bool>
where
    I: AsyncWrite + Unpin,
{
    let Reply { response, passed } = reply;
    let (parts, mut body) = response.into_parts();
    let body_length = if body.is_end_stream() {
        Some(0)
    } else {
        body.size_hint().exact()
    };
    let encoded = match response_head::encode(
        method,
        &parts,
        passed.as_deref(),
        body_length,
        keep_alive,
        out,
    ) {
        Ok(encoded) => encoded,
        Err(error) => {
            tracing::warn!(
                status = parts.status.as_u16(),
                "cannot send a response: {error}"
            );
            io.write_all(CANNOT_ENCODE).await?;
            return Ok(true);
        }
    };
    drop(parts);
    drop(passed);
    match encoded.framing {
        Framing::Length(0) => {}
        Framing::Length(length) => send_sized(io, out, &mut body, length).await?,
        Framing::Chunked => send_chunked(io, out, &mut body).await?,
    }
    // The body ends, and the request's access line is written, before the
    // last bytes go out, as with hyper: a client that has its answer finds
    // the line written (and its next request's line after it).
    drop(body);
    send(io, out).await?;
    Ok(encoded.last)
}

/// The next frame, or `None` once the body has ended; if it is not ready
/// and bytes are waiting in `out`, they are written first.
async fn next_frame<I>(
    io: &mut I,
    out: &mut Vec<u8>,
    body: &mut BoxBody,
) -> io::Result<Option<Frame<Bytes>>>
where
    I: AsyncWrite + Unpin,
{
    loop {
        let polled = poll_fn(|cx| match Pin::new(&mut *body).poll_frame(cx) {
            Poll::Pending if !out.is_empty() => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
            Poll::Ready(frame) => Poll::Ready(Some(frame)),
        })
        .await;
        match polled {
            None => send(io, out).await?,
            Some(None) => return Ok(None),
            Some(Some(Ok(frame))) => return Ok(Some(frame)),
            Some(Some(Err(error))) => return Err(body_failed(&error)),
        }
    }
}

fn body_failed(error: &BodyError) -> io::Error {
    tracing::debug!("response body failed: {error}");
    io::Error::other("response body failed")
}

/// Write what is waiting, and flush: a TLS stream takes bytes into its
/// own buffer and sends them only when flushed.
async fn send<I>(io: &mut I, out: &mut Vec<u8>) -> io::Result<()>
where
    I: AsyncWrite + Unpin,
{
    if !out.is_empty() {
        io.write_all(out).await?;
        out.clear();
    }
    io.flush().await
}

/// Add `data` to what is waiting, or write both if it is large.
async fn push<I>(io: &mut I, out: &mut Vec<u8>, data: &[u8]) -> io::Result<()>
where
    I: AsyncWrite + Unpin,
{
    if data.len() <= COPY_LIMIT {
        out.extend_from_slice(data);
        if out.len() > MAX_WAITING {
            send(io, out).await?;
        }
        return Ok(());
    }
    send(io, out).await?;
    io.write_all(data).await?;
    io.flush().await
}

/// A body of exactly `length` bytes: one that ends short or runs long
/// breaks the framing, and the connection is closed.
async fn send_sized<I>(
    io: &mut I,
    out: &mut Vec<u8>,
    body: &mut BoxBody,
    length: u64,
) -> io::Result<()>
where
    I: AsyncWrite + Unpin,
{
    let mut left = length;
    while let Some(frame) = next_frame(io, out, body).await? {
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.len() as u64 > left {
            return Err(io::Error::other("response body longer than its length"));
        }
        left -= data.len() as u64;
        push(io, out, &data).await?;
        if left == 0 {
            // All of it: as hyper does, the body is not polled for its
            // end (it is dropped, which ends it).
            return Ok(());
        }
    }
    if left > 0 {
        return Err(io::Error::other("response body shorter than its length"));
    }
    Ok(())
}

/// A body in chunks, one a data frame; trailers are left out, as hyper
/// leaves them out for a client that did not ask for them.
async fn send_chunked<I>(io: &mut I, out: &mut Vec<u8>, body: &mut BoxBody) -> io::Result<()>
where
    I: AsyncWrite + Unpin,
{
    while let Some(frame) = next_frame(io, out, body).await? {
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        write_chunk_size(out, data.len());
        push(io, out, &data).await?;
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    Ok(())
}

/// A chunk's size line: the size in hexadecimal, then CRLF.
fn write_chunk_size(out: &mut Vec<u8>, size: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    let mut left = size;
    loop {
        at -= 1;
        digits[at] = DIGITS[left & 0xf];
        left >>= 4;
        if left == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use http::Response;
    use http_body_util::{BodyExt, StreamBody};
    use tokio::io::AsyncReadExt;

    use super::*;

    async fn written(
        method: Method,
        response: Response<BoxBody>,
        keep_alive: bool,
    ) -> (String, bool) {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        let mut out = Vec::new();
        let last = write_response(&mut server, &mut out, &method, response.into(), keep_alive)
            .await
            .expect("written");
        drop(server);
        let mut text = String::new();
        client.read_to_string(&mut text).await.expect("read");
        (text, last)
    }

    fn streamed(chunks: &[&'static str]) -> BoxBody {
        let frames: Vec<Result<Frame<Bytes>, BodyError>> = chunks
            .iter()
            .map(|chunk| Ok(Frame::data(Bytes::from_static(chunk.as_bytes()))))
            .collect();
        StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync()
    }

    #[test]
    fn chunk_sizes_are_hexadecimal() {
        for (size, text) in [
            (0, "0\r\n"),
            (10, "a\r\n"),
            (4096, "1000\r\n"),
            (0x1f2e, "1f2e\r\n"),
        ] {
            let mut out = Vec::new();
            write_chunk_size(&mut out, size);
            assert_eq!(out, text.as_bytes());
        }
    }

    #[tokio::test]
    async fn a_full_body_follows_its_length() {
        let (text, last) =
            written(Method::GET, Response::new(crate::body::full("hello")), true).await;
        assert!(
            text.starts_with("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\n\r\nhello"), "{text}");
        assert!(!last);
    }

    #[tokio::test]
    async fn a_body_of_unknown_length_is_chunked_and_terminated() {
        let (text, _) = written(Method::GET, Response::new(streamed(&["ab", "cde"])), true).await;
        assert!(text.contains("transfer-encoding: chunked\r\n"), "{text}");
        assert!(
            text.ends_with("\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_head_answer_sends_no_body() {
        let mut response = Response::new(streamed(&["ab"]));
        response.headers_mut().insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from_static("2"),
        );
        let (text, _) = written(Method::HEAD, response, true).await;
        assert!(text.ends_with("\r\n\r\n"), "{text}");
        assert!(text.contains("content-length: 2\r\n"), "{text}");
    }

    #[tokio::test]
    async fn a_body_shorter_than_its_length_fails_the_connection() {
        let mut response = Response::new(streamed(&["ab"]));
        response.headers_mut().insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from_static("5"),
        );
        let (_client, mut server) = tokio::io::duplex(1 << 20);
        let result = write_response(
            &mut server,
            &mut Vec::new(),
            &Method::GET,
            response.into(),
            true,
        )
        .await;
        assert!(result.is_err());
    }
}
