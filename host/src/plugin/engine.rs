//! The one wasmtime `Engine` of the gateway and the clock that bounds every
//! plugin call.

use std::sync::OnceLock;
use std::time::Instant;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::config::RuntimeConfig;

/// Core instances, memories and tables per component instance we provision
/// for: Rust plugins use one or two, JS and Python runtimes several.
const CORE_ITEMS_PER_COMPONENT: u32 = 8;

/// When the process started, for the monotonic clock handed to plugins.
pub fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Build the engine: pooling allocator, copy-on-write memory images, epoch
/// interruption. Registers it with the epoch clock.
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

    let mut config = compiler_config(runtime);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config)?;
    super::epoch::register(&engine);
    process_start();
    Ok(engine)
}

/// The settings that shape compiled code, the same as [`build`]'s, for an
/// engine that only compiles. Such an engine is made for each compile and
/// dropped after it: an engine keeps the Cranelift contexts of every thread
/// that compiled with it for as long as it lives (megabytes each), and the
/// engine that runs plugins lives as long as the gateway. What it compiles
/// loads into the running engine, because nothing the allocation strategy
/// sets is part of an artifact's compatibility.
pub fn compiler_config(runtime: &RuntimeConfig) -> Config {
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
        .memory_init_cow(true);
    config
}
