//! The end of a request: its response body is wrapped so the bytes sent
//! are counted, and when the body is done (or dropped because the client
//! went away) the request is counted in the metrics and its access line
//! written.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::access::{AccessFacts, AccessRecord};
use crate::body::{BodyError, BoxBody};
use crate::connection_clock::InFlight;

/// What is known of a request before its response body is sent.
pub struct Pending {
    /// When its head arrived (wall clock, for the line).
    pub time: SystemTime,
    /// When its head arrived (monotonic, for the duration).
    pub started: Instant,
    /// Its id.
    pub request_id: Arc<str>,
    /// The socket peer; the line prefers the resolved client address.
    pub peer_ip: IpAddr,
    /// Method.
    pub method: http::Method,
    /// Path and redacted query.
    pub target: String,
    /// Status sent.
    pub status: u16,
    /// Request body bytes read so far (the counter keeps running).
    pub bytes_in: Arc<AtomicU64>,
    /// The rest.
    pub facts: AccessFacts,
    /// The request's place on its connection, given up when the response
    /// ends: until then the connection is not waiting for a request head.
    pub in_flight: InFlight,
}

/// A response body that reports the request when it ends.
pub struct Logged {
    inner: BoxBody,
    sent: u64,
    /// Held inline: the body is boxed once, with it.
    pending: Option<Pending>,
}

impl Logged {
    /// Wrap `inner`; `pending` is reported when the body ends or drops.
    pub fn wrap(inner: BoxBody, pending: Pending) -> BoxBody {
        let logged = Logged {
            inner,
            sent: 0,
            pending: Some(pending),
        };
        http_body_util::BodyExt::boxed_unsync(logged)
    }

    fn report(&mut self) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let record = AccessRecord {
            time: pending.time,
            started: pending.started,
            request_id: pending.request_id,
            client_ip: pending.facts.client_ip.unwrap_or(pending.peer_ip),
            method: pending.method,
            target: pending.target,
            status: pending.status,
            bytes_in: pending.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.sent,
            duration: pending.started.elapsed(),
            facts: pending.facts,
        };
        super::get().finish_request(record);
    }
}

impl Body for Logged {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.sent += data.len() as u64;
                }
            }
            Poll::Ready(None) => self.report(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        self.report();
    }
}
