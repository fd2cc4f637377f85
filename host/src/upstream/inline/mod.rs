//! HTTP/1.1 to a plain-TCP target from the task serving the request.
//!
//! hyper's client runs each connection as a task of its own: a request
//! crosses a channel to it and the response comes back over another. A
//! request without a body needs none of that: its head is written and the
//! response head read right here, and the response body is read by
//! whoever polls it (a proxied request: 49.1k instructions through
//! hyper's client, 42.2k here). Requests with a body (hyper writes an
//! upload while it reads an early answer) and TLS targets keep hyper's
//! client.

mod body;
mod field_name;
mod framing;
mod head;
mod passed;

use std::io;

use bytes::BytesMut;
use http::header::CONTENT_LENGTH;
use http::{Method, Request};
use http_body::Body;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use body::{Home, InlineBody};
pub use framing::FramingError;
pub use head::{Head, HeadError, encode};
pub use passed::PassedFields;

use crate::body::BoxBody;

/// Room made in the read buffer before reading a head: a small response
/// comes whole in one read.
const READ_CHUNK: usize = 8 * 1024;
/// The most room made before reading a body. The room doubles while
/// reads fill it, so a large body takes a read per 512 KiB (hyper's
/// client reads up to about 400 KiB).
const MAX_BODY_READ: usize = 512 * 1024;
/// A kept connection's buffer larger than this is dropped, so an idle
/// connection does not hold a large body's room.
const MAX_KEPT_BUFFER: usize = 16 * 1024;
/// The largest response head read: hyper's client's bound, so a response
/// is not refused on one path and taken on the other.
const MAX_HEAD: usize = 8192 + 4096 * 100;

/// A connection to a target and the bytes read from it but not yet used.
pub struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("writing the request: {0}")]
    Write(io::Error),
    #[error("reading the response: {0}")]
    Read(io::Error),
    #[error("reading the response head: {0}")]
    ReadMidHead(io::Error),
    #[error("connection closed before a response")]
    ClosedEarly,
    #[error("connection closed inside the response head")]
    Truncated,
    #[error("response head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error(transparent)]
    Head(#[from] HeadError),
    #[error(transparent)]
    Framing(#[from] FramingError),
    #[error("connection closed inside the response body")]
    BodyTruncated,
}

impl ExchangeError {
    /// Whether the request's head may have reached the server.
    pub fn was_sent(&self) -> bool {
        !matches!(self, ExchangeError::Write(_))
    }

    /// Whether the request may go again on another connection: a failed
    /// write means the server had closed the connection, so it saw
    /// nothing; a connection closed with no answer may have been closed
    /// while idle, which only an idempotent request may assume.
    pub fn may_resend(&self, idempotent: bool) -> bool {
        match self {
            ExchangeError::Write(_) => true,
            ExchangeError::ClosedEarly => idempotent,
            ExchangeError::Read(e) => idempotent && e.kind() == io::ErrorKind::ConnectionReset,
            _ => false,
        }
    }
}

/// Whether `request` takes this path: no body (and no length announcing
/// one), and not a tunnel.
pub fn eligible(request: &Request<BoxBody>) -> bool {
    request.body().is_end_stream()
        && request.method() != Method::CONNECT
        && request
            .headers()
            .get(CONTENT_LENGTH)
            .is_none_or(|length| length.as_bytes() == b"0")
}

impl Conn {
    /// A new connection, nothing read yet.
    pub fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Whether a kept connection can take a request: the server has not
    /// closed it or sent anything unasked. Costs no system call unless the
    /// runtime saw the socket become readable.
    pub fn is_open(&self) -> bool {
        let mut probe = [0u8; 1];
        matches!(
            self.stream.try_read(&mut probe),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock
        )
    }

    /// Whether the response read so far has left nothing over.
    fn is_drained(&self) -> bool {
        self.buf.is_empty()
    }

    /// Ready to wait idle: a large read buffer is let go.
    fn idle(mut self) -> Self {
        if self.buf.capacity() > MAX_KEPT_BUFFER {
            self.buf = BytesMut::new();
        }
        self
    }

    /// Write a request `head` and read the response's head. Informational
    /// responses are skipped.
    pub async fn exchange(&mut self, head: &[u8], method: &Method) -> Result<Head, ExchangeError> {
        self.stream
            .write_all(head)
            .await
            .map_err(ExchangeError::Write)?;
        let mut received = false;
        loop {
            self.buf.reserve(READ_CHUNK);
            let read = self
                .stream
                .read_buf(&mut self.buf)
                .await
                // Once part of an answer has come, the request was seen:
                // this failure is not one to resend after.
                .map_err(|e| {
                    if received {
                        ExchangeError::ReadMidHead(e)
                    } else {
                        ExchangeError::Read(e)
                    }
                })?;
            if read == 0 {
                return Err(if received {
                    ExchangeError::Truncated
                } else {
                    ExchangeError::ClosedEarly
                });
            }
            received = true;
            loop {
                match head::parse(&mut self.buf, method)? {
                    head::Parsed::Final(head) => return Ok(head),
                    head::Parsed::Informational => continue,
                    head::Parsed::Partial => break,
                }
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ExchangeError::HeadTooLarge);
            }
        }
    }
}
