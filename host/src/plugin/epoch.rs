//! The clock behind every plugin deadline: one thread that advances the
//! epoch of every live engine while a guest may be running.
//!
//! It ticks slowly while calls are short, fast once a guest has run across
//! a tick (that guest then yields at every fast tick and has its deadline
//! checked), and parks when no guest has run for a while. A tick is a
//! thread wake-up, on a core the workers may share: at a thousand a second
//! it cost a gateway pinned to one core several per cent of its throughput.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use wasmtime::{Engine, EngineWeak};

/// The tick while a guest runs long: each tick it yields to the tokio
/// scheduler and its deadline is checked, so this is the deadline's
/// precision and how long a long-running guest holds a worker at a time.
pub const FAST_TICK: Duration = Duration::from_millis(1);

/// The tick while calls are short (a few microseconds each): the longest a
/// guest runs before its first yield and first deadline check.
pub const SLOW_TICK: Duration = Duration::from_millis(10);

/// Time with no guest running before the clock parks. Long enough that a
/// busy gateway, whose calls are short and may all fall between two ticks,
/// parks and is woken at most a few times a second.
const IDLE_BEFORE_PARKING: Duration = Duration::from_millis(100);

/// The process's clock.
static CLOCK: EpochClock = EpochClock::new();

/// Have `engine`'s epoch advanced by the process's clock.
pub fn register(engine: &Engine) {
    CLOCK.register(engine);
}

/// Mark a guest as running until the returned guard is dropped: the clock
/// ticks (and is woken if parked) for as long as any guard lives.
pub fn running() -> Running {
    CLOCK.enter()
}

/// A guest ran across a tick (its epoch deadline came): tick fast.
pub fn overran() {
    CLOCK.overran();
}

/// Engines whose epoch advances, and whether anything needs it to.
pub struct EpochClock {
    engines: Mutex<Vec<EngineWeak>>,
    /// Guests running now (calls and instantiations in progress).
    running: AtomicUsize,
    /// Set by the ticker just before it parks; a guest that starts while it
    /// is set unparks the ticker.
    parked: AtomicBool,
    /// Guests seen running across a tick, so far.
    overruns: AtomicU64,
    /// Whether the ticker is on fast ticks.
    fast: AtomicBool,
    /// The ticker thread, once started (`None` if it could not be).
    ticker: OnceLock<Option<Thread>>,
    /// Ticks so far, for tests and diagnostics.
    ticks: AtomicU64,
}

/// A running guest; the clock keeps ticking while it lives.
#[must_use = "the clock stops ticking once the guard is dropped"]
pub struct Running(&'static EpochClock);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl EpochClock {
    pub const fn new() -> Self {
        Self {
            engines: Mutex::new(Vec::new()),
            running: AtomicUsize::new(0),
            parked: AtomicBool::new(false),
            overruns: AtomicU64::new(0),
            fast: AtomicBool::new(false),
            ticker: OnceLock::new(),
            ticks: AtomicU64::new(0),
        }
    }

    /// Add `engine` and start the ticker thread if it is not running yet.
    pub fn register(&'static self, engine: &Engine) {
        self.lock_engines().push(engine.weak());
        self.ticker.get_or_init(|| {
            std::thread::Builder::new()
                .name("portcullis-epoch".into())
                .spawn(move || self.run())
                .map(|handle| handle.thread().clone())
                .map_err(|e| tracing::error!("cannot start the epoch thread: {e}"))
                .ok()
        });
    }

    /// A guest starts: keep ticking until the guard is dropped.
    pub fn enter(&'static self) -> Running {
        self.running.fetch_add(1, Ordering::SeqCst);
        // Paired with the ticker's store of `parked` and its re-read of
        // `running` (all SeqCst): either the ticker sees this guest and does
        // not park, or this sees `parked` and wakes it.
        if self.parked.load(Ordering::SeqCst)
            && let Some(Some(ticker)) = self.ticker.get()
        {
            ticker.unpark();
        }
        Running(self)
    }

    /// A guest ran across a tick: switch to fast ticks now, not at the end
    /// of the slow one.
    pub fn overran(&self) {
        self.overruns.fetch_add(1, Ordering::Relaxed);
        if !self.fast.load(Ordering::Relaxed)
            && let Some(Some(ticker)) = self.ticker.get()
        {
            ticker.unpark();
        }
    }

    /// Whether the ticker is on fast ticks.
    pub fn is_fast(&self) -> bool {
        self.fast.load(Ordering::Relaxed)
    }

    /// Whether the ticker is parked (or about to park).
    pub fn is_parked(&self) -> bool {
        self.parked.load(Ordering::SeqCst)
    }

    /// Ticks so far.
    pub fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }

    fn run(&self) {
        let mut idle = Duration::ZERO;
        let mut overruns = 0;
        let mut just_woken = false;
        loop {
            // A guest that woke the clock has just set its deadline one
            // tick away: advancing at once would count it as running across
            // a tick and switch to fast ticks for a call of microseconds.
            if just_woken {
                just_woken = false;
                std::thread::park_timeout(SLOW_TICK);
            }
            self.advance();
            // Fast while guests keep running across ticks; slow once a
            // whole tick passes without one.
            let seen = self.overruns.load(Ordering::Relaxed);
            let tick = if seen == overruns {
                SLOW_TICK
            } else {
                FAST_TICK
            };
            overruns = seen;
            self.fast.store(tick == FAST_TICK, Ordering::Relaxed);
            if self.running.load(Ordering::SeqCst) > 0 {
                idle = Duration::ZERO;
            } else {
                idle += tick;
            }
            if idle < IDLE_BEFORE_PARKING {
                // Woken early by an overrun, it ticks at once.
                std::thread::park_timeout(tick);
                continue;
            }
            self.parked.store(true, Ordering::SeqCst);
            if self.running.load(Ordering::SeqCst) == 0 {
                // Engines dropped meanwhile are forgotten at the next
                // advance; what a dead one leaves until then is a weak handle.
                std::thread::park();
            }
            self.parked.store(false, Ordering::SeqCst);
            // Woken by a guest: its first tick is a slow tick away. After a
            // spurious wake-up, idle stays past the threshold: one tick, and
            // park again.
            just_woken = true;
        }
    }

    /// Advance every live engine's epoch; forget the engines that are gone.
    fn advance(&self) {
        self.lock_engines().retain(|weak| match weak.upgrade() {
            Some(engine) => {
                engine.increment_epoch();
                true
            }
            None => false,
        });
        self.ticks.fetch_add(1, Ordering::Relaxed);
    }

    fn lock_engines(&self) -> std::sync::MutexGuard<'_, Vec<EngineWeak>> {
        // Pushing to or filtering a Vec cannot leave it inconsistent.
        self.engines.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for EpochClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::eventually;

    /// A clock of its own (tests run in parallel) with one engine on it;
    /// the engine is returned to keep it alive.
    fn started_clock() -> (&'static EpochClock, Engine) {
        let clock: &'static EpochClock = Box::leak(Box::new(EpochClock::new()));
        let engine = Engine::default();
        clock.register(&engine);
        (clock, engine)
    }

    #[test]
    fn an_idle_clock_parks_and_a_running_guest_wakes_it() {
        let (clock, _engine) = started_clock();
        eventually("the idle clock parks", || clock.is_parked());
        let parked_at = clock.ticks();

        let guest = clock.enter();
        eventually("a running guest wakes the clock", || {
            clock.ticks() > parked_at + 5
        });
        assert!(!clock.is_parked());
        drop(guest);
        eventually("the clock parks again once the guest is done", || {
            clock.is_parked()
        });
    }

    #[test]
    fn a_long_running_guest_keeps_the_clock_ticking() {
        let (clock, _engine) = started_clock();
        let _guest = clock.enter();
        let start = clock.ticks();
        // Well past the idle threshold: a clock that only counted calls
        // starting would have parked by now and left the guest unbounded.
        let idle_ticks = IDLE_BEFORE_PARKING.as_millis() / SLOW_TICK.as_millis();
        let needed = start + 3 * u64::try_from(idle_ticks).expect("small");
        eventually("ticks keep coming", || clock.ticks() > needed);
        assert!(!clock.is_parked());
    }

    #[test]
    fn a_guest_running_across_a_tick_makes_it_tick_fast_until_it_stops() {
        let (clock, _engine) = started_clock();
        let guest = clock.enter();
        assert!(!clock.is_fast(), "short calls tick slowly");
        // What the epoch callback of a spinning guest does at every tick.
        let spinning = std::sync::Arc::new(AtomicBool::new(true));
        let spinner = {
            let spinning = spinning.clone();
            std::thread::spawn(move || {
                while spinning.load(Ordering::Relaxed) {
                    clock.overran();
                    std::thread::sleep(FAST_TICK);
                }
            })
        };
        eventually("the clock ticks fast", || clock.is_fast());
        spinning.store(false, Ordering::Relaxed);
        spinner.join().expect("spinner");
        eventually("the clock slows down again", || !clock.is_fast());
        drop(guest);
    }

    #[test]
    fn a_guest_that_wakes_the_clock_gets_a_whole_slow_tick_first() {
        let (clock, _engine) = started_clock();
        eventually("the idle clock parks", || clock.is_parked());
        let parked_at = clock.ticks();
        let guest = clock.enter();
        let woken = std::time::Instant::now();
        eventually("the clock ticks again", || clock.ticks() > parked_at);
        assert!(
            woken.elapsed() >= SLOW_TICK,
            "the first tick came {:?} after the wake-up",
            woken.elapsed()
        );
        drop(guest);
    }
}
