//! One accepted connection's task, from its first request to its end: the
//! connection itself, raced against its idle timeout.
//!
//! Written as a plain future over two boxes rather than an `async` block:
//! an async block keeps every value moved into it and every value moved
//! on again (into `select!`, into `.await`) in slots of its own, and that
//! state lives as long as the connection. Here a keep-alive connection
//! costs the connection (about 1.8 KiB), its idle timer and this struct.
//!
//! The idle timer is polled only when its own timer woke the task: the
//! task also wakes for every read and write of a request, and polling the
//! timer each time (its waker registered again, its deadline read) cost
//! about 1% of a proxied request.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use crate::connections::ConnectionPermit;

/// Serves until the connection ends or has been idle too long.
pub struct Serving<C, E> {
    connection: Pin<Box<C>>,
    expired: Pin<Box<E>>,
    /// The waker `expired` is polled with.
    timer: Arc<TimerWake>,
    timer_waker: Waker,
    /// The task waker `timer` passes wake-ups on to, as last handed over.
    task: Option<Waker>,
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
        let timer = Arc::new(TimerWake {
            // Polled on the first poll, which starts the timer.
            fired: AtomicBool::new(true),
            task: Mutex::new(None),
        });
        Self {
            connection: Box::pin(connection),
            expired: Box::pin(expired),
            timer_waker: Waker::from(timer.clone()),
            timer,
            task: None,
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

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let peer = this.peer;
        if let Poll::Ready(ended) = this.connection.as_mut().poll(cx) {
            if let Err(e) = ended {
                tracing::debug!(%peer, "connection ended with an error: {e}");
            }
            return Poll::Ready(());
        }
        if !this
            .task
            .as_ref()
            .is_some_and(|task| task.will_wake(cx.waker()))
        {
            this.task = Some(cx.waker().clone());
            *this.timer.lock_task() = Some(cx.waker().clone());
        }
        if this.timer.fired.swap(false, Ordering::AcqRel) {
            let mut timer_cx = Context::from_waker(&this.timer_waker);
            if let Poll::Ready(()) = this.expired.as_mut().poll(&mut timer_cx) {
                tracing::debug!(%peer, "closing an idle connection");
                return Poll::Ready(());
            }
        }
        Poll::Pending
    }
}

/// The idle timer's waker: notes that the timer fired, then wakes the
/// connection's task.
struct TimerWake {
    fired: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl TimerWake {
    fn lock_task(&self) -> MutexGuard<'_, Option<Waker>> {
        // Nothing panics while holding it; a poisoned slot is still valid.
        self.task.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Wake for TimerWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        if let Some(task) = self.lock_task().as_ref() {
            task.wake_by_ref();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    /// A future that counts its polls.
    struct Counted<F> {
        inner: Pin<Box<F>>,
        polls: Arc<AtomicUsize>,
    }

    impl<F: Future> Future for Counted<F> {
        type Output = F::Output;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            self.polls.fetch_add(1, Ordering::Relaxed);
            self.inner.as_mut().poll(cx)
        }
    }

    fn peer() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 1))
    }

    #[tokio::test]
    async fn a_busy_connection_does_not_poll_its_idle_timer_and_the_timer_still_fires() {
        let timer_polls = Arc::new(AtomicUsize::new(0));
        let connection_polls = Arc::new(AtomicUsize::new(0));
        // A connection woken every millisecond that never ends.
        let connection = Counted {
            inner: Box::pin(async {
                let mut tick = tokio::time::interval(Duration::from_millis(1));
                loop {
                    tick.tick().await;
                }
                #[allow(unreachable_code)]
                Ok::<(), std::io::Error>(())
            }),
            polls: connection_polls.clone(),
        };
        let expired = Counted {
            inner: Box::pin(tokio::time::sleep(Duration::from_millis(200))),
            polls: timer_polls.clone(),
        };
        tokio::time::timeout(
            Duration::from_secs(30),
            Serving::new(connection, expired, peer()),
        )
        .await
        .expect("the idle timer ends the connection");
        let (connection, timer) = (
            connection_polls.load(Ordering::Relaxed),
            timer_polls.load(Ordering::Relaxed),
        );
        assert!(
            connection > 20,
            "the connection was woken {connection} times"
        );
        assert!(timer <= 3, "the timer was polled {timer} times");
    }

    #[tokio::test]
    async fn a_connection_that_ends_ends_the_task() {
        let serving = Serving::new(
            async { Ok::<(), std::io::Error>(()) },
            std::future::pending::<()>(),
            peer(),
        );
        tokio::time::timeout(Duration::from_secs(30), serving)
            .await
            .expect("ends with its connection");
    }
}
