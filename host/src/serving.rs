//! One accepted connection's task, from its first request to its end: the
//! connection itself, raced against its idle timeout.
//!
//! Written as a plain future over two boxes rather than an `async` block:
//! an async block keeps every value moved into it and every value moved
//! on again (into `select!`, into `.await`) in slots of its own, and that
//! state lives as long as the connection. Here a keep-alive connection
//! costs the connection (about 1.8 KiB), its idle timer and this struct.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::connections::ConnectionPermit;

/// Serves until the connection ends or has been idle too long.
pub struct Serving<C, E> {
    connection: Pin<Box<C>>,
    expired: Pin<Box<E>>,
    peer: SocketAddr,
    /// Held (and so counted against the connection caps) until the task
    /// ends.
    _permit: Option<ConnectionPermit>,
}

impl<C, E, X> Serving<C, E>
where
    C: Future<Output = Result<(), X>>,
    E: Future<Output = ()>,
{
    /// `connection`, closed when `expired` resolves first.
    pub fn new(connection: C, expired: E, peer: SocketAddr) -> Self {
        Self {
            connection: Box::pin(connection),
            expired: Box::pin(expired),
            peer,
            _permit: None,
        }
    }

    /// The same, counted against the connection caps until it ends.
    pub fn holding(mut self, permit: ConnectionPermit) -> Self {
        self._permit = Some(permit);
        self
    }
}

impl<C, E, X> Future for Serving<C, E>
where
    C: Future<Output = Result<(), X>>,
    E: Future<Output = ()>,
    X: std::fmt::Display,
{
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let peer = self.peer;
        if let Poll::Ready(ended) = self.connection.as_mut().poll(cx) {
            if let Err(e) = ended {
                tracing::debug!(%peer, "connection ended with an error: {e}");
            }
            return Poll::Ready(());
        }
        if let Poll::Ready(()) = self.expired.as_mut().poll(cx) {
            tracing::debug!(%peer, "closing an idle connection");
            return Poll::Ready(());
        }
        Poll::Pending
    }
}
