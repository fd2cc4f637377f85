//! The response body of an inline exchange, read from the connection as it
//! is polled. The connection goes home when the body has been read to its
//! end with nothing left over, and is closed otherwise.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::AsyncReadExt;

use super::framing::{Framing, Step};
use super::{Conn, ExchangeError, MAX_BODY_READ, READ_CHUNK};

/// Where a connection goes when its response is done.
pub trait Home: Send + Sync {
    /// Keep `conn` for another request.
    fn keep(&self, conn: Conn);
}

/// A response body read from its connection. Dropped before its end, it
/// closes the connection, which is left mid-message.
pub struct InlineBody {
    /// `None` once the body has ended or failed.
    conn: Option<Conn>,
    framing: Framing,
    reusable: bool,
    home: Arc<dyn Home>,
    /// Room to make before the next read: doubled while reads fill it.
    room: usize,
}

impl InlineBody {
    /// The body after a head that left `conn`'s buffer at the body's start.
    pub fn new(conn: Conn, framing: Framing, reusable: bool, home: Arc<dyn Home>) -> Self {
        let mut body = Self {
            conn: Some(conn),
            framing,
            reusable,
            home,
            room: READ_CHUNK,
        };
        // A response without a body frees its connection at once.
        if matches!(body.framing, Framing::Done) {
            body.finish();
        }
        body
    }

    /// The body has ended: the connection goes home if it may.
    fn finish(&mut self) {
        self.framing = Framing::Done;
        if let Some(conn) = self.conn.take()
            && self.reusable
            && conn.is_drained()
        {
            self.home.keep(conn.idle());
        }
    }
}

impl Body for InlineBody {
    type Data = Bytes;
    type Error = ExchangeError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ExchangeError>>> {
        let this = &mut *self;
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match this.framing.step(&mut conn.buf) {
                Ok(Step::Data(data)) => {
                    // The last bytes of a sized body: the reader may stop
                    // here (hyper's server does, having counted them), so
                    // the connection goes home now.
                    if this.framing.remaining() == Some(0) {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Step::Trailers(trailers)) => {
                    this.finish();
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                }
                Ok(Step::End) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(Step::NeedMore) => {}
                Err(e) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
            // Never more room than a sized body still needs.
            let room = this.framing.remaining().map_or(this.room, |left| {
                usize::try_from(left).map_or(this.room, |left| left.clamp(1, this.room))
            });
            conn.buf.reserve(room);
            let read = ready!(pin!(conn.stream.read_buf(&mut conn.buf)).poll(cx));
            if read.as_ref().is_ok_and(|&n| n >= room) {
                this.room = (this.room * 2).min(MAX_BODY_READ);
            }
            match read {
                Ok(0) if this.framing.ends_at_close() => {
                    this.framing = Framing::Done;
                    this.conn = None;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(ExchangeError::BodyTruncated)));
                }
                Ok(_) => {}
                Err(e) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(ExchangeError::Read(e))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.conn.is_none() || matches!(self.framing, Framing::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing.remaining() {
            Some(length) => SizeHint::with_exact(length),
            None => SizeHint::default(),
        }
    }
}
