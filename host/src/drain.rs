//! Graceful shutdown: the listener signals once, every connection sees it
//! and ends after the response it is writing (or at once, if idle), and
//! the listener waits until all of them have.
//!
//! hyper-util's `GracefulShutdown` does this for hyper's connections only;
//! the gateway's own HTTP/1.1 connections (`crate::http1`) need the same
//! signal, and the connections that pass from one to the other must stay
//! counted throughout.

use tokio::sync::watch;

/// The listener's side: starts the drain and waits for it.
pub struct Drain {
    signal: watch::Sender<bool>,
}

/// A connection's side: held while the connection lives.
#[derive(Clone)]
pub struct DrainWatch {
    signal: watch::Receiver<bool>,
}

impl Drain {
    pub fn new() -> Self {
        Self {
            signal: watch::Sender::new(false),
        }
    }

    /// A watch for a new connection.
    pub fn watch(&self) -> DrainWatch {
        DrainWatch {
            signal: self.signal.subscribe(),
        }
    }

    /// Tell every connection to finish, and wait until all have ended.
    pub async fn shutdown(self) {
        self.signal.send_replace(true);
        self.signal.closed().await;
    }
}

impl Default for Drain {
    fn default() -> Self {
        Self::new()
    }
}

impl DrainWatch {
    /// Whether the drain has started.
    pub fn draining(&self) -> bool {
        *self.signal.borrow()
    }

    /// Resolves once the drain has started (at once if it has).
    pub async fn started(&mut self) {
        // An error means the listener is gone: nothing will wait for this
        // connection, so it may as well end.
        let _ = self.signal.wait_for(|draining| *draining).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn shutdown_waits_for_every_watch_and_each_sees_the_signal() {
        let drain = Drain::new();
        let mut first = drain.watch();
        let second = drain.watch();
        assert!(!first.draining());
        let connection = tokio::spawn(async move {
            first.started().await;
            assert!(second.draining());
            drop(second);
        });
        tokio::time::timeout(Duration::from_secs(30), drain.shutdown())
            .await
            .expect("the drain ends once the watches are dropped");
        connection.await.expect("the connection saw the signal");
    }
}
