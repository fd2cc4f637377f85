//! A wall clock that reads what it was set to, for running a plugin against
//! recorded requests: a recorded signature or token is only valid at the
//! time it was recorded, whatever the plugin's language reads the time with
//! (WASI's wall clock, or the `clock` import).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A settable wall clock, in Unix milliseconds.
#[derive(Debug, Default)]
pub struct SetClock(AtomicU64);

impl SetClock {
    /// Make it `unix_ms`.
    pub fn set(&self, unix_ms: u64) {
        self.0.store(unix_ms, Ordering::Relaxed);
    }

    /// What it reads, in Unix milliseconds.
    pub fn unix_ms(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The wall-clock time in Unix milliseconds: `set`'s, or the system's.
pub fn wall_clock_ms(set: Option<&SetClock>) -> u64 {
    match set {
        Some(clock) => clock.unix_ms(),
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    }
}

/// The form WASI's clocks take.
pub struct WasiSetClock(pub std::sync::Arc<SetClock>);

impl wasmtime_wasi::HostWallClock for WasiSetClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        Duration::from_millis(self.0.unix_ms())
    }
}
