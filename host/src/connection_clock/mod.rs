//! A connection's time limits, kept on one coarse timer per connection
//! rather than a timer per request:
//!
//! - idle: a connection with no request in flight and no bytes moving for
//!   `idle_timeout_ms` is closed, for HTTP/1.1 keep-alive and HTTP/2 alike
//!   (hyper has no idle timeout for HTTP/2);
//! - request head: a connection that has no request open (head received,
//!   response not yet ended) and receives no complete request head for
//!   `header_read_timeout_ms` is closed, however many bytes trickle in
//!   (slowloris). This is hyper's HTTP/1 header read timeout, which
//!   allocated, armed and cancelled a timer for every request; here it
//!   also bounds an HTTP/2 client that never completes its first request;
//! - request total: an HTTP/1 request's `request_timeout_ms`, from its head
//!   to its response head, when the tick is at most a quarter of it (an
//!   HTTP/2 stream, or a timeout shortened by a reload below that, keeps a
//!   timer of its own).
//!
//! Activity, requests and heads are counters and flags set on the request
//! path and looked at on the tick, so a request pays a few relaxed atomic
//! operations, and a connection one timer. A limit fires at the first
//! tick after it has passed: within a quarter of the shortest timeout.

mod activity;
mod request;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::task::AtomicWaker;

pub use activity::ActivityIo;
pub use request::{Deadline, InFlight};

/// Ticks per shortest timeout.
const TICKS_PER_TIMEOUT: u32 = 4;
/// The deadline while no request's deadline is kept.
const NO_DEADLINE: u64 = u64::MAX;

/// Keeps one connection's time limits.
#[derive(Clone)]
pub struct ConnectionClock {
    state: Arc<ClockState>,
    idle_timeout: Duration,
    head_timeout: Duration,
}

struct ClockState {
    /// The tick's period.
    tick: Duration,
    /// When the clock started: deadlines are kept as nanoseconds since.
    epoch: Instant,
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
    /// When the request in flight is overdue, or [`NO_DEADLINE`].
    deadline: AtomicU64,
    /// Set by the tick that found the request overdue.
    overdue: AtomicBool,
    /// The task running the request whose deadline is kept.
    deadline_waker: AtomicWaker,
}

impl ConnectionClock {
    /// A clock that closes the connection after `idle_timeout` of
    /// idleness, or after `head_timeout` without a request open or a
    /// request head received, and can keep deadlines of `request_timeout`.
    pub fn new(idle_timeout: Duration, head_timeout: Duration, request_timeout: Duration) -> Self {
        let shortest = idle_timeout.min(head_timeout).min(request_timeout);
        Self {
            state: Arc::new(ClockState {
                tick: (shortest / TICKS_PER_TIMEOUT).max(Duration::from_millis(1)),
                epoch: Instant::now(),
                active: AtomicBool::new(false),
                in_flight: AtomicUsize::new(0),
                open: AtomicUsize::new(0),
                heads: AtomicUsize::new(0),
                multiplexed: AtomicBool::new(false),
                deadline: AtomicU64::new(NO_DEADLINE),
                overdue: AtomicBool::new(false),
                deadline_waker: AtomicWaker::new(),
            }),
            idle_timeout,
            head_timeout,
        }
    }

    /// `io`, with every read and write counted as activity.
    pub fn wrap<T>(&self, io: T) -> ActivityIo<T> {
        ActivityIo::new(io, self.state.clone())
    }

    /// A request head of `version` arrived: the request is in flight and
    /// open until the returned guard says otherwise.
    pub fn request(&self, version: http::Version) -> InFlight {
        let state = &self.state;
        state.in_flight.fetch_add(1, Ordering::Relaxed);
        state.open.fetch_add(1, Ordering::Relaxed);
        state.heads.fetch_add(1, Ordering::Relaxed);
        let multiplexed = version == http::Version::HTTP_2;
        if multiplexed {
            state.multiplexed.store(true, Ordering::Relaxed);
        }
        InFlight {
            state: state.clone(),
            responded: false,
            multiplexed,
        }
    }

    /// Runs the tick: wakes a request past its deadline, and resolves once
    /// the connection has been idle for the idle timeout or waited for a
    /// request head for the head timeout.
    pub async fn expired(self) {
        let state = &self.state;
        let idle_ticks = ticks_in(self.idle_timeout, state.tick);
        let head_ticks = ticks_in(self.head_timeout, state.tick);
        let mut interval = tokio::time::interval(state.tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await;
        let (mut quiet_ticks, mut waiting_ticks) = (0, 0);
        let mut heads_seen = state.heads.load(Ordering::Relaxed);
        loop {
            interval.tick().await;
            if state.nanos_since_epoch(Instant::now()) >= state.deadline.load(Ordering::Relaxed) {
                state.deadline.store(NO_DEADLINE, Ordering::Relaxed);
                state.overdue.store(true, Ordering::Relaxed);
                state.deadline_waker.wake();
            }
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

impl ClockState {
    fn nanos_since_epoch(&self, instant: Instant) -> u64 {
        let nanos = instant.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(nanos).unwrap_or(NO_DEADLINE - 1)
    }
}

/// Whole ticks of `tick` in `timeout`, rounded up.
fn ticks_in(timeout: Duration, tick: Duration) -> u128 {
    timeout.as_nanos().div_ceil(tick.as_nanos()).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn fires_only_when_quiet_and_nothing_in_flight() {
        let timeout = Duration::from_millis(40);
        let clock = ConnectionClock::new(timeout, HOUR, HOUR);
        let mut guard = clock.request(http::Version::HTTP_11);
        let fired = tokio::time::timeout(timeout * 8, clock.clone().expired()).await;
        assert!(fired.is_err(), "fired with a request in flight");
        // Responded but still sending: idle once no bytes move.
        guard.responded();
        let started = std::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(10), clock.expired())
            .await
            .expect("never fired once quiet");
        assert!(started.elapsed() >= timeout);
    }

    #[tokio::test]
    async fn a_head_that_does_not_come_fires_however_busy_the_bytes() {
        let timeout = Duration::from_millis(40);
        let clock = ConnectionClock::new(HOUR, timeout, HOUR);
        let io = clock.wrap(());
        let trickle = async {
            loop {
                io.touch();
                tokio::time::sleep(timeout / 8).await;
            }
        };
        let started = std::time::Instant::now();
        tokio::select! {
            () = clock.expired() => {}
            () = trickle => unreachable!(),
            () = tokio::time::sleep(Duration::from_secs(10)) => panic!("never fired"),
        }
        assert!(started.elapsed() >= timeout);
    }

    #[tokio::test]
    async fn an_open_request_or_heads_coming_keep_the_head_clock_still() {
        let timeout = Duration::from_millis(40);
        let clock = ConnectionClock::new(HOUR, timeout, HOUR);
        let mut open = clock.request(http::Version::HTTP_11);
        open.responded();
        let fired = tokio::time::timeout(timeout * 8, clock.clone().expired()).await;
        assert!(fired.is_err(), "fired while a response was being sent");
        drop(open);
        let keep_coming = async {
            loop {
                drop(clock.request(http::Version::HTTP_11));
                tokio::time::sleep(timeout / 8).await;
            }
        };
        tokio::select! {
            () = clock.clone().expired() => panic!("fired while heads kept coming"),
            () = keep_coming => unreachable!(),
            () = tokio::time::sleep(timeout * 8) => {}
        }
        // HTTP/2 streams wait only on the idle timeout.
        drop(clock.request(http::Version::HTTP_2));
        let fired = tokio::time::timeout(timeout * 8, clock.expired()).await;
        assert!(fired.is_err(), "the head clock ran on an HTTP/2 connection");
    }

    #[tokio::test]
    async fn a_kept_deadline_ends_the_request_no_sooner_than_its_timeout() {
        let timeout = Duration::from_millis(80);
        let clock = ConnectionClock::new(HOUR, HOUR, timeout);
        let mut request = clock.request(http::Version::HTTP_11);
        assert!(request.keeps_deadline(timeout, std::time::Instant::now()));
        let started = std::time::Instant::now();
        let never = std::future::pending::<()>();
        tokio::select! {
            finished = request.within_deadline(Box::pin(never)) => assert!(finished.is_none()),
            () = clock.clone().expired() => panic!("the connection closed instead"),
            () = tokio::time::sleep(Duration::from_secs(10)) => panic!("the deadline never came"),
        }
        let took = started.elapsed();
        assert!(took >= timeout, "ended early: {took:?}");
        // The next request starts with a deadline of its own.
        drop(request);
        let mut next = clock.request(http::Version::HTTP_11);
        assert!(next.keeps_deadline(timeout, std::time::Instant::now()));
        let quick = next.within_deadline(Box::pin(async { 7 })).await;
        assert_eq!(quick, Some(7));
    }

    #[tokio::test]
    async fn streams_and_timeouts_finer_than_the_tick_keep_their_own_timers() {
        let clock = ConnectionClock::new(HOUR, HOUR, Duration::from_secs(40));
        let mut stream = clock.request(http::Version::HTTP_2);
        assert!(!stream.keeps_deadline(Duration::from_secs(40), std::time::Instant::now()));
        let mut request = clock.request(http::Version::HTTP_11);
        // The tick is 10 s: a 1 s timeout is too fine for it.
        assert!(!request.keeps_deadline(Duration::from_secs(1), std::time::Instant::now()));
        assert!(request.keeps_deadline(Duration::from_secs(40), std::time::Instant::now()));
    }

    #[tokio::test]
    async fn a_request_answered_in_time_is_not_ended_by_its_old_deadline() {
        let timeout = Duration::from_millis(40);
        let clock = ConnectionClock::new(HOUR, HOUR, timeout);
        let mut request = clock.request(http::Version::HTTP_11);
        assert!(request.keeps_deadline(timeout, std::time::Instant::now()));
        request.responded();
        // Ticks pass the old deadline with nothing in flight.
        let ticking = tokio::time::timeout(timeout * 4, clock.clone().expired()).await;
        assert!(ticking.is_err());
        let mut next = clock.request(http::Version::HTTP_11);
        next.responded();
        let finished = next.within_deadline(Box::pin(async { 1 })).await;
        assert_eq!(finished, Some(1));
    }
}
