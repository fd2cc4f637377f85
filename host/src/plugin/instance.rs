//! One configured plugin instance and the calls into it. Every call runs
//! under the instance's memory cap and a wall-clock deadline enforced by
//! epoch interruption; the guest yields to tokio at every epoch tick so a
//! spinning plugin never blocks a worker thread.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wasmtime::{Store, UpdateDeadline};

use super::bindings::{Decision, Phase, PluginBindings};
use super::decision_cache::Recording;
use super::definition::PluginDefinition;
use super::lent::LentEntries;
use super::state::InstanceState;
use super::view::{
    BodyResource, ContextResource, RequestResource, RequestView, ResponseResource, ResponseView,
};
use crate::context::RequestContext;

/// How long `configure` may take: it may build large tables, but a plugin
/// that hangs there must not hang the load.
const CONFIGURE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call into a plugin failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call ran past its deadline.
    #[error("the plugin ran past its {0:?} deadline")]
    Timeout(Duration),
    /// The guest trapped (panic, out of memory, invalid operation, ...).
    #[error("the plugin trapped: {0}")]
    Trap(String),
    /// `configure` returned an error.
    #[error("configure failed: {0}")]
    Configure(String),
    /// Every instance `runtime.max_instances` allows is alive.
    #[error("no instance can be created: runtime.max_instances is reached ({0})")]
    InstanceCap(String),
}

/// A configured instance, ready for calls.
pub struct Instance {
    store: Store<InstanceState>,
    bindings: PluginBindings,
    /// The request, response and context entries lent to calls.
    lent: LentEntries,
    /// Calls served so far.
    pub uses: u64,
}

impl Instance {
    /// Instantiate and configure. Never called on the request path.
    pub async fn create(
        definition: &PluginDefinition,
        settings_json: &str,
    ) -> Result<Self, CallError> {
        let _running = super::epoch::running();
        let state = InstanceState::new(definition)?;
        let mut store = Store::new(definition.pre.engine(), state);
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_callback(|ctx| {
            // Ran across a tick: from now on the clock ticks fast, so this
            // guest yields and is checked at the fine precision.
            super::epoch::overran();
            if Instant::now() >= ctx.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let mut instance = Self {
            bindings: {
                store.data_mut().start_call(CONFIGURE_TIMEOUT);
                store.set_epoch_deadline(1);
                definition
                    .pre
                    .instantiate_async(&mut store)
                    .await
                    .map_err(|e| classify(e, CONFIGURE_TIMEOUT))?
            },
            store,
            lent: LentEntries::new(),
            uses: 0,
        };
        let _configuring = instance.arm(CONFIGURE_TIMEOUT);
        let policy = instance.bindings.portcullis_policy_policy();
        policy
            .call_configure(&mut instance.store, settings_json)
            .await
            .map_err(|e| classify(e, CONFIGURE_TIMEOUT))?
            .map_err(CallError::Configure)?;
        Ok(instance)
    }

    /// Linear memory the instance holds, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.store.data().limits.bytes()
    }

    /// The phases the plugin declares.
    pub async fn phases(&mut self) -> Result<Vec<Phase>, CallError> {
        let _running = self.arm(CONFIGURE_TIMEOUT);
        let policy = self.bindings.portcullis_policy_policy();
        policy
            .call_phases(&mut self.store)
            .await
            .map_err(|e| classify(e, CONFIGURE_TIMEOUT))
    }

    /// Run a request phase.
    pub async fn on_request(
        &mut self,
        phase: Phase,
        request: Arc<RequestView>,
        body: Option<Bytes>,
        context: Arc<RequestContext>,
        timeout: Duration,
    ) -> Result<Decision, CallError> {
        self.uses += 1;
        let _running = self.arm(timeout);
        let table = &mut self.store.data_mut().table;
        let request = self
            .lent
            .request(
                table,
                RequestResource {
                    view: request,
                    body,
                },
            )
            .map_err(trap)?;
        let context = self
            .lent
            .context(table, ContextResource(context))
            .map_err(trap)?;
        let policy = self.bindings.portcullis_policy_policy();
        let result = policy
            .call_on_request(&mut self.store, phase, lend(request), lend(context))
            .await;
        let decision = result.map_err(|e| classify(e, timeout))?;
        self.end_call()?;
        Ok(decision)
    }

    /// Run a response phase.
    #[allow(clippy::too_many_arguments)]
    pub async fn on_response(
        &mut self,
        phase: Phase,
        request: Arc<RequestView>,
        response: Arc<ResponseView>,
        body: Option<Bytes>,
        context: Arc<RequestContext>,
        timeout: Duration,
    ) -> Result<Decision, CallError> {
        self.uses += 1;
        let _running = self.arm(timeout);
        let table = &mut self.store.data_mut().table;
        let lent = &mut self.lent;
        let request = RequestResource {
            view: request,
            body: None,
        };
        let request = lent.request(table, request).map_err(trap)?;
        let response = ResponseResource {
            view: response,
            body,
        };
        let response = lent.response(table, response).map_err(trap)?;
        let context = lent
            .context(table, ContextResource(context))
            .map_err(trap)?;
        let policy = self.bindings.portcullis_policy_policy();
        let result = policy
            .call_on_response(
                &mut self.store,
                phase,
                lend(request),
                lend(response),
                lend(context),
            )
            .await;
        let decision = result.map_err(|e| classify(e, timeout))?;
        self.end_call()?;
        Ok(decision)
    }

    /// Note what the next call reads of the request and its context, so
    /// its decision can be kept ([`super::decision_cache`]).
    pub fn record(&mut self) {
        self.store.data_mut().recording = Some(Recording::default());
    }

    /// What the last call read, if it was recorded.
    pub fn take_recording(&mut self) -> Option<Recording> {
        self.store.data_mut().recording.take()
    }

    /// Start the deadline for a call; the epoch clock ticks until the
    /// returned guard is dropped, with the call or with its future.
    fn arm(&mut self, timeout: Duration) -> super::epoch::Running {
        self.store.data_mut().start_call(timeout);
        self.store.set_epoch_deadline(1);
        super::epoch::running()
    }

    /// Let go of what the call that just ended was lent, and reclaim the
    /// body handles it was given.
    fn end_call(&mut self) -> Result<(), CallError> {
        let state = self.store.data_mut();
        self.lent.vacate(&mut state.table).map_err(trap)?;
        for rep in std::mem::take(&mut state.lent_bodies) {
            // Already gone if the guest dropped it: nothing to do.
            let _ = state
                .table
                .delete(wasmtime::component::Resource::<BodyResource>::new_own(rep));
        }
        Ok(())
    }
}

/// A handle to the table entry `rep` to pass as a `borrow<...>` argument.
/// Passed as a borrow, it goes to the guest as the raw entry; an owned
/// handle would first be moved into the store's own handle table (and
/// tracked there as lent) on every call, for nothing: the entry stays in
/// `table` (see [`LentEntries`]), and the component model ends the guest's
/// borrow when the call returns.
fn lend<T: 'static>(rep: u32) -> wasmtime::component::Resource<T> {
    wasmtime::component::Resource::new_borrow(rep)
}

fn trap(e: impl std::fmt::Display) -> CallError {
    CallError::Trap(e.to_string())
}

/// Tell a deadline and the instance cap from any other trap.
fn classify(error: wasmtime::Error, timeout: Duration) -> CallError {
    if let Some(cap) = error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
        return CallError::InstanceCap(cap.to_string());
    }
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => CallError::Timeout(timeout),
        Some(trap) => CallError::Trap(trap.to_string()),
        None => CallError::Trap(format!("{error:#}")),
    }
}
