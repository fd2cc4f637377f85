//! A request's place on its connection, and its total-time deadline kept
//! by the connection's tick rather than a timer of its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::{ClockState, NO_DEADLINE, TICKS_PER_TIMEOUT};

/// A request on the clocked connection: in flight until
/// [`InFlight::responded`], open until dropped.
pub struct InFlight {
    pub(super) state: Arc<ClockState>,
    pub(super) responded: bool,
    /// An HTTP/2 stream: one of several requests in flight at once, which
    /// the connection's single deadline cannot serve.
    pub(super) multiplexed: bool,
}

impl InFlight {
    /// Take charge of this request's deadline, `timeout` after `started`,
    /// if the connection's tick measures it finely enough (a quarter of it
    /// at most) and the request is the connection's only one; it then
    /// fires at the first tick past it. Otherwise `false`: the caller keeps
    /// a timer of its own.
    pub fn keeps_deadline(&mut self, timeout: Duration, started: Instant) -> bool {
        let state = &self.state;
        if self.multiplexed || timeout < state.tick * TICKS_PER_TIMEOUT {
            state.deadline.store(NO_DEADLINE, Ordering::Relaxed);
            return false;
        }
        state.overdue.store(false, Ordering::Relaxed);
        let deadline = state.nanos_since_epoch(started + timeout);
        state.deadline.store(deadline, Ordering::Relaxed);
        true
    }

    /// `work`, or `None` once the deadline [`InFlight::keeps_deadline`]
    /// set has passed.
    pub fn within_deadline<F: Future + Unpin>(&self, work: F) -> Deadline<'_, F> {
        Deadline {
            state: &self.state,
            work,
        }
    }

    /// The response head has been produced: the request no longer keeps
    /// the connection from idling, but stays open until this is dropped
    /// (when its response body has been sent).
    pub fn responded(&mut self) {
        if !std::mem::replace(&mut self.responded, true) {
            if !self.multiplexed {
                self.state.deadline.store(NO_DEADLINE, Ordering::Relaxed);
            }
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

/// A request's work raced against the deadline the connection's tick
/// keeps.
pub struct Deadline<'a, F> {
    state: &'a ClockState,
    work: F,
}

impl<F: Future + Unpin> Future for Deadline<'_, F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Poll::Ready(done) = Pin::new(&mut this.work).poll(cx) {
            return Poll::Ready(Some(done));
        }
        // Registered before the flag is read, so a tick that sets it in
        // between still wakes this task.
        this.state.deadline_waker.register(cx.waker());
        if this.state.overdue.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        Poll::Pending
    }
}
