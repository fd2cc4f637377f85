//! Body plumbing: one boxed body type for everything the gateway sends, and
//! bounded buffering for plugins that asked to see a body.

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};

/// Error type of the gateway's bodies.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// Every body the gateway sends, upstream or to the client.
pub type BoxBody = UnsyncBoxBody<Bytes, BodyError>;

/// A body of known bytes.
pub fn full(bytes: impl Into<Bytes>) -> BoxBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body. `Empty` has no size, so boxing it allocates nothing.
pub fn empty() -> BoxBody {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Box any body.
pub fn boxed<B>(body: B) -> BoxBody
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BodyError>,
{
    body.map_err(Into::into).boxed_unsync()
}

/// The result of reading a body up to a limit.
pub enum Buffered {
    /// The whole body, within the limit.
    Complete(Bytes),
    /// The first `limit + 1` or more bytes, and the unread rest.
    TooLarge(Bytes, BoxBody),
}

/// Read `body` until it ends or exceeds `limit` bytes.
pub async fn buffer_up_to(mut body: BoxBody, limit: u64) -> Result<Buffered, BodyError> {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() as u64 > limit {
                return Ok(Buffered::TooLarge(buf.freeze(), body));
            }
        }
        // Trailers are dropped when a body is buffered for a plugin.
    }
    Ok(Buffered::Complete(buf.freeze()))
}

/// A body that yields `head` and then the rest of `tail`.
pub fn chain(head: Bytes, tail: BoxBody) -> BoxBody {
    let head = futures_util::stream::once(async move { Ok::<_, BodyError>(Frame::data(head)) });
    let tail = http_body_util::BodyStream::new(tail);
    StreamBody::new(futures_util::StreamExt::chain(head, tail)).boxed_unsync()
}

/// `body`, adding the bytes it yields to `counter`.
pub fn counted(body: BoxBody, counter: std::sync::Arc<std::sync::atomic::AtomicU64>) -> BoxBody {
    body.map_frame(move |frame| {
        if let Some(data) = frame.data_ref() {
            counter.fetch_add(data.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        frame
    })
    .boxed_unsync()
}
