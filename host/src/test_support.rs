//! Helpers for the crate's unit tests.

use std::time::{Duration, Instant};

/// Poll `condition` until it holds, failing the test after a generous
/// bound: for outcomes another thread brings about.
pub fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
