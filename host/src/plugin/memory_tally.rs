//! The store's resource limiter: the configured caps, plus a tally of the
//! linear memory the instance holds, for `plugin bench` and anyone asking
//! what an instance costs.

use wasmtime::{ResourceLimiter, StoreLimits};

/// Caps and the memory tally of one store.
pub struct MemoryTally {
    limits: StoreLimits,
    bytes: usize,
}

impl MemoryTally {
    /// Enforce `limits`, counting from nothing.
    pub fn new(limits: StoreLimits) -> Self {
        Self { limits, bytes: 0 }
    }

    /// Linear memory held by the store's instances, in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl ResourceLimiter for MemoryTally {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.bytes += desired.saturating_sub(current);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}
