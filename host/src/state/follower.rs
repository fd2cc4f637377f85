//! Following a Redis channel on a thread of its own: subscribe, load the
//! whole state, apply each announced change; subscribe afresh and reload
//! every [`RESYNC_EVERY`] and after any error, so nothing announced while
//! the follower was away (or on a connection that silently died) is
//! missed for long.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{SharedState, StateError};

/// How often the follower subscribes afresh and reloads everything even
/// when nothing was said: a subscription whose server vanished without a
/// reset stays silent, so this bounds how late a change can arrive.
pub const RESYNC_EVERY: Duration = Duration::from_secs(10);
/// Wait between attempts to reach Redis.
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// What a follower does.
pub struct Follower<R, M> {
    /// The shared store.
    pub state: Arc<SharedState>,
    /// The feature, as in logs and metrics.
    pub feature: &'static str,
    /// The channel (prefixed).
    pub channel: String,
    /// Set while subscribed and loaded.
    pub synced: Arc<AtomicBool>,
    /// Load everything, after each subscribe.
    pub reload: R,
    /// Apply one announced change (the message's payload).
    pub apply: M,
}

impl<R, M> Follower<R, M>
where
    R: Fn() -> Result<(), StateError> + Send + 'static,
    M: Fn(String) -> Result<(), StateError> + Send + 'static,
{
    /// Follow forever on a thread named `name`.
    pub fn spawn(self, name: &str) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                loop {
                    if let Err(e) = self.follow_once() {
                        if self.synced.swap(false, Ordering::Relaxed) {
                            tracing::warn!(
                                target: "audit",
                                feature = self.feature,
                                "updates from Redis interrupted: {e}"
                            );
                        }
                        let _ = self.state.record::<()>(self.feature, Err(e));
                        std::thread::sleep(RETRY_EVERY);
                    }
                }
            })
            .map(drop)
    }

    /// Subscribe, load everything, then apply changes for
    /// [`RESYNC_EVERY`] or until an error.
    fn follow_once(&self) -> Result<(), StateError> {
        let mut subscriber = self.state.blocking_connection()?;
        // Reads wait for a message at most this long, so the round ends
        // on time on a silent channel.
        subscriber.set_read_timeout(Some(Duration::from_secs(1)))?;
        let mut pubsub = subscriber.as_pubsub();
        pubsub.subscribe(&self.channel)?;
        // Subscribed first, then loaded: a change made in between is both
        // loaded and heard, never lost.
        (self.reload)()?;
        if !self.synced.swap(true, Ordering::Relaxed) {
            tracing::info!(target: "audit", feature = self.feature, "synchronized from Redis");
        }
        let _ = self.state.record(self.feature, Ok(()));
        let started = Instant::now();
        while started.elapsed() < RESYNC_EVERY {
            match pubsub.get_message() {
                Ok(message) => (self.apply)(message.get_payload()?)?,
                Err(e) if e.is_timeout() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
