//! What one plugin instance's store holds: its resource table, a WASI
//! context with no ambient authority, its memory limits and the deadline of
//! the call in progress.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::StoreLimitsBuilder;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

use super::decision_cache::{Read, Recording};
use super::definition::PluginDefinition;
use super::instance::CallError;
use super::kv_store::KvNamespace;
use super::memory_tally::MemoryTally;
use super::outbound::AllowList;
use super::set_clock::{SetClock, WasiSetClock};
use crate::apikeys::ApiKeys;
use crate::ratelimit::RateLimitPolicies;

/// Store data of one plugin instance.
pub struct InstanceState {
    /// Resources lent to the guest.
    pub table: ResourceTable,
    /// WASI p2, linked so components from any language instantiate, but
    /// with no preopened files, no environment, no stdio and no network.
    pub wasi: WasiCtx,
    /// Memory, table and instance caps.
    pub limits: MemoryTally,
    /// When the call in progress must have returned.
    pub deadline: Instant,
    /// How much more outbound I/O may push the deadline back in this call.
    pub io_allowance: std::time::Duration,
    /// The plugin's name, for logs.
    pub plugin_name: Arc<str>,
    /// The plugin's key-value namespace.
    pub kv: KvNamespace,
    /// The plugin's keys in Redis, with `kv_scope = "shared"`.
    pub kv_shared: Option<Arc<crate::state::kv::SharedKv>>,
    /// The gateway's rate-limit policies, by name.
    pub rate_limits: RateLimitPolicies,
    /// The origins the plugin may call.
    pub http_allow: AllowList,
    /// The gateway's API keys, when configured.
    pub api_keys: Option<ApiKeys>,
    /// The country database, for `geo`.
    pub geo: Option<Arc<crate::geo::GeoDb>>,
    /// Body handles given out during the call in progress; reclaimed after
    /// it, so a guest that never drops one cannot pin request bodies.
    pub lent_bodies: Vec<u32>,
    /// The wall clock, when it is set rather than read (`plugin test`).
    pub clock: Option<Arc<SetClock>>,
    /// What the call in progress read, when its decision may be kept.
    pub recording: Option<Recording>,
}

/// Most time outbound requests may add to one call's deadline.
pub const IO_ALLOWANCE_PER_CALL: std::time::Duration = std::time::Duration::from_secs(10);

/// Most resources a guest may hold at once: far above what a policy needs,
/// low enough that a leaking guest is stopped.
const MAX_TABLE_ELEMENTS: usize = 10_000;

impl InstanceState {
    /// State for a new instance of `definition`.
    pub fn new(definition: &PluginDefinition) -> Result<Self, CallError> {
        let mut wasi = WasiCtx::builder();
        wasi.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        for (dir, guest_path) in &definition.mounts {
            wasi.preopened_dir(dir, guest_path, FsPerms::ReadOnly)
                .map_err(|e| {
                    CallError::Configure(format!("cannot open mount {}: {e}", dir.display()))
                })?;
        }
        if let Some(clock) = &definition.clock {
            wasi.wall_clock(WasiSetClock(clock.clone()));
        }
        if definition.show_output {
            // Both to stderr: stdout carries `plugin test --json`'s report.
            wasi.stdout(wasmtime_wasi::cli::stderr()).inherit_stderr();
        }
        let wasi = wasi.build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(definition.memory_limit_bytes)
            .table_elements(MAX_TABLE_ELEMENTS)
            .trap_on_grow_failure(true)
            .build();
        Ok(Self {
            table: ResourceTable::new(),
            wasi,
            limits: MemoryTally::new(limits),
            deadline: Instant::now(),
            io_allowance: IO_ALLOWANCE_PER_CALL,
            plugin_name: definition.name.clone(),
            kv: definition.kv.clone(),
            kv_shared: definition.kv_shared.clone(),
            rate_limits: definition.rate_limits.clone(),
            http_allow: definition.http_allow.clone(),
            api_keys: definition.api_keys.clone(),
            geo: definition.geo.clone(),
            clock: definition.clock.clone(),
            lent_bodies: Vec::new(),
            recording: None,
        })
    }
}

impl InstanceState {
    /// Start a call that may run for `timeout` (plus outbound waits, up to
    /// the per-call allowance).
    pub fn start_call(&mut self, timeout: std::time::Duration) {
        self.deadline = Instant::now() + timeout;
        self.io_allowance = IO_ALLOWANCE_PER_CALL;
    }

    /// Note a getter the guest called, if the call is being recorded.
    pub fn note(&mut self, read: impl FnOnce() -> Read) {
        if let Some(recording) = &mut self.recording {
            recording.read(read());
        }
    }

    /// The guest did something that must happen on every request: its
    /// decision is not kept.
    pub fn taint(&mut self) {
        if let Some(recording) = &mut self.recording {
            recording.taint();
        }
    }
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
