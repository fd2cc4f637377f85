//! A connection's two quiet-time limits, kept without a timer per request:
//!
//! - idle: a connection with no request in flight and no bytes moving for
//!   `idle_timeout_ms` is closed, for HTTP/1.1 keep-alive and HTTP/2 alike
//!   (hyper has no idle timeout for HTTP/2);
//! - request head: a connection that has no request open (head received,
//!   response not yet ended) and receives no complete request head for
//!   `header_read_timeout_ms` is closed, however many bytes trickle in
//!   (slowloris). This is hyper's HTTP/1 header read timeout, which
//!   allocated, armed and cancelled a timer for every request; here it
//!   also bounds an HTTP/2 client that never completes its first request.
//!
//! Activity, requests and heads are counters and flags set on the request
//! path and looked at on a coarse tick, so a request pays a few relaxed
//! atomic operations, and a connection one timer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Ticks per (shorter) timeout: a connection is closed between one and 1¼
/// timeouts after it went quiet.
const TICKS_PER_TIMEOUT: u32 = 4;

/// Watches one connection for idleness and for a request head that does
/// not come.
#[derive(Clone)]
pub struct IdleWatch {
    state: Arc<IdleState>,
    idle_timeout: Duration,
    head_timeout: Duration,
}

struct IdleState {
    /// Set by any read or write since the last tick.
    active: AtomicBool,
    /// Requests whose response head has not been produced yet (a slow
    /// upstream moves no bytes on the client connection).
    in_flight: AtomicUsize,
    /// Requests whose response has not ended (been sent or dropped).
    open: AtomicUsize,
    /// Request heads received so far: a change between two ticks means a
    /// head came.
    heads: AtomicUsize,
    /// An HTTP/2 connection: idle streams are bounded by the idle timeout
    /// alone once the client has shown it speaks the protocol.
    multiplexed: AtomicBool,
}

/// A request on the watched connection: in flight until
/// [`InFlight::responded`], open until dropped.
pub struct InFlight {
    state: Arc<IdleState>,
    responded: bool,
}

impl InFlight {
    /// The response head has been produced: the request no longer keeps
    /// the connection from idling, but stays open until this is dropped
    /// (when its response body has been sent).
    pub fn responded(&mut self) {
        if !std::mem::replace(&mut self.responded, true) {
            self.state.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.responded();
        self.state.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl IdleWatch {
    /// A watch that fires after `idle_timeout` of idleness, or after
    /// `head_timeout` without a request open or a request head received.
    pub fn new(idle_timeout: Duration, head_timeout: Duration) -> Self {
        Self {
            state: Arc::new(IdleState {
                active: AtomicBool::new(false),
                in_flight: AtomicUsize::new(0),
                open: AtomicUsize::new(0),
                heads: AtomicUsize::new(0),
                multiplexed: AtomicBool::new(false),
            }),
            idle_timeout,
            head_timeout,
        }
    }

    /// `io`, with every read and write counted as activity.
    pub fn wrap<T>(&self, io: T) -> ActivityIo<T> {
        ActivityIo {
            inner: io,
            state: self.state.clone(),
        }
    }

    /// A request head of `version` arrived: the request is in flight and
    /// open until the returned guard says otherwise.
    pub fn request(&self, version: http::Version) -> InFlight {
        let state = &self.state;
        state.in_flight.fetch_add(1, Ordering::Relaxed);
        state.open.fetch_add(1, Ordering::Relaxed);
        state.heads.fetch_add(1, Ordering::Relaxed);
        if version == http::Version::HTTP_2 {
            state.multiplexed.store(true, Ordering::Relaxed);
        }
        InFlight {
            state: state.clone(),
            responded: false,
        }
    }

    /// Resolves once the connection has been idle for the idle timeout, or
    /// waited for a request head for the head timeout.
    pub async fn expired(self) {
        let tick = (self.idle_timeout.min(self.head_timeout) / TICKS_PER_TIMEOUT)
            .max(Duration::from_millis(1));
        let idle_ticks = ticks_in(self.idle_timeout, tick);
        let head_ticks = ticks_in(self.head_timeout, tick);
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await;
        let (mut quiet_ticks, mut waiting_ticks) = (0, 0);
        let mut heads_seen = self.state.heads.load(Ordering::Relaxed);
        loop {
            interval.tick().await;
            let state = &self.state;
            let active = state.active.swap(false, Ordering::Relaxed);
            if active || state.in_flight.load(Ordering::Relaxed) > 0 {
                quiet_ticks = 0;
            } else {
                quiet_ticks += 1;
            }
            let heads = state.heads.load(Ordering::Relaxed);
            let head_came = std::mem::replace(&mut heads_seen, heads) != heads;
            if head_came
                || state.open.load(Ordering::Relaxed) > 0
                || state.multiplexed.load(Ordering::Relaxed)
            {
                waiting_ticks = 0;
            } else {
                waiting_ticks += 1;
            }
            if quiet_ticks >= idle_ticks || waiting_ticks >= head_ticks {
                return;
            }
        }
    }
}

/// Whole ticks of `tick` in `timeout`, rounded up.
fn ticks_in(timeout: Duration, tick: Duration) -> u128 {
    timeout.as_nanos().div_ceil(tick.as_nanos()).max(1)
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
        let watch = IdleWatch::new(timeout, Duration::from_secs(3600));
        let mut guard = watch.request(http::Version::HTTP_11);
        let fired = tokio::time::timeout(timeout * 8, watch.clone().expired()).await;
        assert!(fired.is_err(), "fired with a request in flight");
        // Responded but still sending: idle once no bytes move.
        guard.responded();
        let started = std::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(10), watch.expired())
            .await
            .expect("never fired once quiet");
        assert!(started.elapsed() >= timeout);
    }

    #[tokio::test]
    async fn a_head_that_does_not_come_fires_however_busy_the_bytes() {
        let timeout = Duration::from_millis(40);
        let watch = IdleWatch::new(Duration::from_secs(3600), timeout);
        let io = watch.wrap(());
        let trickle = async {
            loop {
                io.touch();
                tokio::time::sleep(timeout / 8).await;
            }
        };
        let started = std::time::Instant::now();
        tokio::select! {
            () = watch.expired() => {}
            () = trickle => unreachable!(),
            () = tokio::time::sleep(Duration::from_secs(10)) => panic!("never fired"),
        }
        assert!(started.elapsed() >= timeout);
    }

    #[tokio::test]
    async fn an_open_request_or_heads_coming_keep_the_head_clock_still() {
        let timeout = Duration::from_millis(40);
        let watch = IdleWatch::new(Duration::from_secs(3600), timeout);
        let mut open = watch.request(http::Version::HTTP_11);
        open.responded();
        let fired = tokio::time::timeout(timeout * 8, watch.clone().expired()).await;
        assert!(fired.is_err(), "fired while a response was being sent");
        drop(open);
        let keep_coming = async {
            loop {
                drop(watch.request(http::Version::HTTP_11));
                tokio::time::sleep(timeout / 8).await;
            }
        };
        tokio::select! {
            () = watch.clone().expired() => panic!("fired while heads kept coming"),
            () = keep_coming => unreachable!(),
            () = tokio::time::sleep(timeout * 8) => {}
        }
        // HTTP/2 streams wait only on the idle timeout.
        drop(watch.request(http::Version::HTTP_2));
        let fired = tokio::time::timeout(timeout * 8, watch.expired()).await;
        assert!(fired.is_err(), "the head clock ran on an HTTP/2 connection");
    }
}
