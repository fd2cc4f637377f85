//! The one wasmtime `Engine` of the gateway and the clock that bounds every
//! plugin call.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::config::RuntimeConfig;

/// How often the epoch advances. Each tick, a running guest yields to the
/// tokio scheduler and its deadline is checked, so this is both the
/// deadline's precision and the longest a guest holds a worker thread.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Core instances, memories and tables per component instance we provision
/// for: Rust plugins use one or two, JS and Python runtimes several.
const CORE_ITEMS_PER_COMPONENT: u32 = 8;

/// When the process started, for the monotonic clock handed to plugins.
pub fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Build the engine: pooling allocator, copy-on-write memory images, epoch
/// interruption. Starts the epoch ticker thread.
pub fn build(runtime: &RuntimeConfig) -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    let instances = runtime.max_instances.max(1);
    let core_items = instances.saturating_mul(CORE_ITEMS_PER_COMPONENT);
    pool.total_component_instances(instances)
        .total_core_instances(core_items)
        .total_memories(core_items)
        .total_tables(core_items)
        .total_stacks(instances)
        .max_memory_size(usize::try_from(runtime.max_memory_mib).unwrap_or(usize::MAX) << 20);

    let mut config = Config::new();
    if runtime.virtual_memory == crate::config::VirtualMemory::Compact {
        let reserved = u64::from(runtime.max_memory_mib) << 20;
        config
            .memory_reservation(reserved)
            .memory_guard_size(0)
            .memory_reservation_for_growth(0);
    }
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config)?;
    start_epoch_ticker(&engine);
    process_start();
    Ok(engine)
}

/// A thread that advances the epoch; it holds only a weak reference so it
/// ends with the engine.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("portcullis-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map(drop)
        .unwrap_or_else(|e| tracing::error!("cannot start the epoch thread: {e}"));
}
