//! The gateway's own HTTP/1.1 server, for the requests most connections
//! carry: bodiless HTTP/1.1 requests (`GET`, `HEAD`, `DELETE` without a
//! body ...), read, answered and kept alive by the connection's task.
//!
//! hyper's server took about 14k instructions of a proxied request's 39k:
//! its dispatcher, a header name lookup that allocates for every custom
//! field, and a graceful-shutdown watch polled at every wake-up. This path
//! reads a head with httparse into the same `http` types, writes the
//! response head as hyper would, and streams the body: 37.1k a request,
//! most of the rest being the head's parse into a `HeaderMap`, as before;
//! and an idle keep-alive connection holds 9.8 KiB rather than 17.4 KiB.
//!
//! The first request it does not serve (one with a body, an upgrade, an
//! HTTP/1.0 or HTTP/2 client, a malformed head: see
//! [`request_head::parse`]) hands the connection, with the bytes read so
//! far, to hyper for the rest of its life. hyper's checks, error answers
//! and body handling stay the only ones.

mod body_writer;
mod date;
mod request_head;
mod response_head;
mod rewind;

use std::future::Future;
use std::io;

use bytes::{Bytes, BytesMut};
use http::Request;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub use rewind::Rewind;

use crate::drain::DrainWatch;
use crate::reply::Reply;
use request_head::Parsed;

/// Room made in the read buffer before each read: a request head comes
/// whole in one read.
const READ_CHUNK: usize = 8 * 1024;
/// The write buffer is let go past this size, so an idle connection keeps
/// no more than a response head's room.
const MAX_KEPT_OUT: usize = 4 * 1024;

/// How a connection left this server.
pub enum Ended<I> {
    /// Closed: by the client, after a last response, or by the drain.
    Closed,
    /// To be served by hyper from here on: the connection and the bytes
    /// read from it that hyper has to read first.
    HandOver(I, Bytes),
}

/// Serve bodiless HTTP/1.1 requests on `io` with `handle` until the
/// connection closes or a request this server does not serve arrives.
/// A head not complete within `max_head` bytes goes to hyper, which
/// answers 431.
pub async fn serve<I, H, F>(
    mut io: I,
    max_head: usize,
    drain: &mut DrainWatch,
    mut handle: H,
) -> io::Result<Ended<I>>
where
    I: AsyncRead + AsyncWrite + Unpin,
    H: FnMut(Request<()>) -> F,
    F: Future<Output = Reply>,
{
    let mut buf = BytesMut::new();
    // How much of `buf` holds no complete head.
    let mut scanned = 0;
    let mut out = Vec::new();
    loop {
        let parsed = if buf.is_empty() {
            Parsed::Partial
        } else {
            request_head::parse(&mut buf, &mut scanned)
        };
        let (request, keep_alive) = match parsed {
            Parsed::Served {
                request,
                keep_alive,
            } => (request, keep_alive),
            Parsed::HandOver => return Ok(Ended::HandOver(io, buf.freeze())),
            Parsed::Partial => {
                if buf.len() >= max_head {
                    return Ok(Ended::HandOver(io, buf.freeze()));
                }
                buf.reserve(READ_CHUNK);
                let read = if buf.is_empty() {
                    // Between requests a drain ends the connection.
                    tokio::select! {
                        biased;
                        read = io.read_buf(&mut buf) => read?,
                        () = drain.started() => return Ok(Ended::Closed),
                    }
                } else {
                    io.read_buf(&mut buf).await?
                };
                if read == 0 {
                    return Ok(Ended::Closed);
                }
                continue;
            }
        };
        let method = request.method().clone();
        let handling = handle(request);
        tokio::pin!(handling);
        // A client that goes away cancels its request, as with hyper: the
        // connection is read while the request is served. Bytes that come
        // meanwhile (a pipelined request) wait in the buffer.
        let response = if buf.is_empty() {
            tokio::select! {
                biased;
                response = &mut handling => response,
                read = io.read_buf(&mut buf) => match read {
                    Ok(0) | Err(_) => return Ok(Ended::Closed),
                    Ok(_) => handling.await,
                },
            }
        } else {
            handling.await
        };
        // A drain started meanwhile makes this the last response.
        let keep_alive = keep_alive && !drain.draining();
        out.clear();
        let last =
            body_writer::write_response(&mut io, &mut out, &method, response, keep_alive).await?;
        if last {
            let _ = io.shutdown().await;
            return Ok(Ended::Closed);
        }
        if out.capacity() > MAX_KEPT_OUT {
            out = Vec::new();
        }
    }
}
