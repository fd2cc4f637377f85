//! The idle-connection timeout: a connection with no request in flight and
//! no bytes moving for `idle_timeout_ms` is closed, for HTTP/1.1 keep-alive
//! and HTTP/2 alike (hyper has no idle timeout for HTTP/2).
//!
//! Activity is a flag set on every read and write and looked at on a coarse
//! tick, so the request path pays one relaxed store per I/O call and one
//! timer per connection, not a timer reset per request.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Ticks per timeout: a connection is closed between one and 1¼ timeouts
/// after it went quiet.
const TICKS_PER_TIMEOUT: u32 = 4;

/// Watches one connection for idleness.
#[derive(Clone)]
pub struct IdleWatch {
    state: Arc<IdleState>,
    timeout: Duration,
}

struct IdleState {
    /// Set by any read or write since the last tick.
    active: AtomicBool,
    /// Requests whose response head has not been produced yet (a slow
    /// upstream moves no bytes on the client connection).
    in_flight: AtomicUsize,
}

/// A request in flight on the watched connection; dropping it ends it.
pub struct InFlight {
    state: Arc<IdleState>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl IdleWatch {
    /// A watch that fires after `timeout` of idleness.
    pub fn new(timeout: Duration) -> Self {
        Self {
            state: Arc::new(IdleState {
                active: AtomicBool::new(false),
                in_flight: AtomicUsize::new(0),
            }),
            timeout,
        }
    }

    /// `io`, with every read and write counted as activity.
    pub fn wrap<T>(&self, io: T) -> ActivityIo<T> {
        ActivityIo {
            inner: io,
            state: self.state.clone(),
        }
    }

    /// Mark a request in flight until the returned guard is dropped.
    pub fn request(&self) -> InFlight {
        self.state.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight {
            state: self.state.clone(),
        }
    }

    /// Resolves once the connection has been idle for the timeout.
    pub async fn expired(self) {
        let tick = (self.timeout / TICKS_PER_TIMEOUT).max(Duration::from_millis(1));
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await;
        let mut quiet_ticks = 0;
        loop {
            interval.tick().await;
            let active = self.state.active.swap(false, Ordering::Relaxed);
            if active || self.state.in_flight.load(Ordering::Relaxed) > 0 {
                quiet_ticks = 0;
                continue;
            }
            quiet_ticks += 1;
            if quiet_ticks >= TICKS_PER_TIMEOUT {
                return;
            }
        }
    }
}

/// An I/O stream that reports reads and writes to its [`IdleWatch`].
pub struct ActivityIo<T> {
    inner: T,
    state: Arc<IdleState>,
}

impl<T> ActivityIo<T> {
    fn touch(&self) {
        self.state.active.store(true, Ordering::Relaxed);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ActivityIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ActivityIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.touch();
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.touch();
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fires_only_when_quiet_and_nothing_in_flight() {
        let timeout = Duration::from_millis(40);
        let watch = IdleWatch::new(timeout);
        let guard = watch.request();
        let fired = tokio::time::timeout(timeout * 8, watch.clone().expired()).await;
        assert!(fired.is_err(), "fired with a request in flight");
        drop(guard);
        let started = std::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(10), watch.expired())
            .await
            .expect("never fired once quiet");
        assert!(started.elapsed() >= timeout);
    }
}
