//! Configured instances of one plugin with one set of route settings.
//!
//! Requests never wait for `configure`: instances are created ahead of need
//! by background tasks. A request takes an idle instance, or waits up to
//! `acquire_timeout_ms` for one to be returned or created, then gets a 503.
//! An instance is returned after a clean call, replaced after `max_uses`
//! calls (1 under `per-request` isolation), and discarded on any failure.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::bindings::Phase;
use super::compat::split_name;
use super::decision_cache::DecisionCache;
use super::definition::PluginDefinition;
use super::instance::{CallError, Instance};
use super::ruling::Ruling;
use crate::config::{Isolation, PluginRole};

/// Why no instance could be had.
#[derive(Debug, thiserror::Error)]
#[error("no plugin instance became free within {0:?}")]
pub struct PoolExhausted(pub Duration);

/// The instance pool of one (plugin, settings) pair.
pub struct InstancePool {
    /// The plugin.
    pub definition: Arc<PluginDefinition>,
    /// The settings every instance is configured with.
    settings_json: String,
    /// The phases the plugin declared.
    pub phases: Vec<Phase>,
    idle: Mutex<Vec<Instance>>,
    /// Instances alive (idle, busy or being created).
    live: AtomicUsize,
    /// Instances being created in the background.
    creating: AtomicUsize,
    returned: Notify,
    max_uses: u64,
    /// Instances to keep ready.
    target_idle: usize,
    /// `request-headers` decisions the plugin said may be given again;
    /// only for a plugin that imports `decision-cache`.
    pub decisions: Option<DecisionCache<Ruling>>,
    /// Its `response-headers` decisions, likewise.
    pub response_decisions: Option<DecisionCache<Ruling>>,
}

/// Whether the component imports `portcullis:policy/decision-cache`.
fn imports_decision_cache(imports: &[String]) -> bool {
    imports
        .iter()
        .any(|name| split_name(name).is_some_and(|(interface, _)| interface == "decision-cache"))
}

impl InstancePool {
    /// The decisions kept for `phase`: `request-headers` and
    /// `response-headers` have a cache each; body phases none.
    pub fn decisions_for(&self, phase: Phase) -> Option<&DecisionCache<Ruling>> {
        match phase {
            Phase::RequestHeaders => self.decisions.as_ref(),
            Phase::ResponseHeaders => self.response_decisions.as_ref(),
            Phase::RequestBody | Phase::ResponseBody => None,
        }
    }

    /// Create the first instance now (surfacing `configure` errors at load),
    /// learn the plugin's phases from it, and fill the pool in the background.
    pub async fn start(
        definition: Arc<PluginDefinition>,
        settings_json: String,
    ) -> Result<Arc<Self>, CallError> {
        let mut first = Instance::create(&definition, &settings_json).await?;
        let phases = first.phases().await?;
        let pool_config = &definition.pool;
        let max_uses = match pool_config.isolation {
            Isolation::Pooled => pool_config.max_uses,
            Isolation::PerRequest => 1,
        };
        // An authorizer has a decision cache of its own, keyed by its
        // identity sources, in front of every call.
        let keeps = |phase| {
            (definition.decision_cache_entries > 0
                && definition.role != PluginRole::Authorizer
                && phases.contains(&phase)
                && imports_decision_cache(&definition.provenance.imports))
            .then(|| DecisionCache::new(definition.decision_cache_entries, definition.geo.clone()))
        };
        let pool = Arc::new(Self {
            decisions: keeps(Phase::RequestHeaders),
            response_decisions: keeps(Phase::ResponseHeaders),
            settings_json,
            phases,
            idle: Mutex::new(Vec::new()),
            live: AtomicUsize::new(1),
            creating: AtomicUsize::new(0),
            returned: Notify::new(),
            max_uses,
            target_idle: pool_config.prewarm.max(1) as usize,
            definition,
        });
        // An instance that ran `phases` has not served a request: under
        // per-request isolation it still counts as never used.
        pool.put_back(first);
        pool.refill();
        Ok(pool)
    }

    /// Whether the plugin implements `phase`.
    pub fn has_phase(&self, phase: Phase) -> bool {
        self.phases.contains(&phase)
    }

    /// Take an instance, waiting up to the pool's acquire timeout.
    pub async fn acquire(self: &Arc<Self>) -> Result<Lease, PoolExhausted> {
        // The common case, an idle instance, needs no waiter and no clock.
        if let Some(lease) = self.take_idle() {
            return Ok(lease);
        }
        let wait = Duration::from_millis(self.definition.pool.acquire_timeout_ms);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Enabled before looking, so an instance put back in between
            // wakes this waiter.
            let notified = self.returned.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(lease) = self.take_idle() {
                return Ok(lease);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(PoolExhausted(wait));
            }
        }
    }

    /// An idle instance, if there is one; either way, start creating
    /// instances to keep `target_idle` ready.
    fn take_idle(self: &Arc<Self>) -> Option<Lease> {
        let (instance, idle) = {
            let mut idle = self.lock_idle();
            (idle.pop(), idle.len())
        };
        self.refill_from(idle);
        let instance = instance?;
        Some(Lease {
            pool: self.clone(),
            instance: Some(instance),
        })
    }

    /// Give back an instance after a clean call.
    fn release(self: &Arc<Self>, instance: Instance) {
        if instance.uses >= self.max_uses {
            self.discard();
        } else {
            self.put_back(instance);
        }
    }

    /// Forget an instance that failed or is used up, and replace it.
    fn discard(self: &Arc<Self>) {
        self.live.fetch_sub(1, Ordering::AcqRel);
        self.refill();
    }

    fn put_back(&self, instance: Instance) {
        self.lock_idle().push(instance);
        self.returned.notify_one();
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        // Pushing or popping a Vec cannot leave it inconsistent.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Start creating instances until `target_idle` are ready or `max` live.
    fn refill(self: &Arc<Self>) {
        let idle = self.lock_idle().len();
        self.refill_from(idle);
    }

    /// [`Self::refill`], with `idle` instances ready.
    fn refill_from(self: &Arc<Self>, idle: usize) {
        let max = self.definition.pool.max as usize;
        let live = self.live.load(Ordering::Acquire);
        let creating = self.creating.load(Ordering::Acquire);
        let busy = live.saturating_sub(idle + creating);
        // Keep `target_idle` spare (ready or on the way) beyond those in use.
        let wanted = (busy + self.target_idle).min(max);
        for _ in live..wanted {
            if self
                .live
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < max).then_some(n + 1)
                })
                .is_err()
            {
                break;
            }
            self.creating.fetch_add(1, Ordering::AcqRel);
            let pool = Arc::clone(self);
            tokio::spawn(async move {
                let created = Instance::create(&pool.definition, &pool.settings_json).await;
                pool.creating.fetch_sub(1, Ordering::AcqRel);
                match created {
                    Ok(instance) => pool.put_back(instance),
                    Err(e) => {
                        pool.live.fetch_sub(1, Ordering::AcqRel);
                        tracing::error!(
                            plugin = &*pool.definition.name,
                            "cannot create a plugin instance: {e}"
                        );
                    }
                }
            });
        }
    }

    /// Instances alive (idle, busy or being created).
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    /// Instances ready for a request.
    pub fn idle(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.len())
    }
}

/// An instance taken from a pool. Give it back with [`Lease::release`]
/// after a clean call; dropped any other way (a failed call, or a request
/// cancelled mid-call) it is discarded and replaced, so the pool's count of
/// live instances never drifts.
pub struct Lease {
    pool: Arc<InstancePool>,
    instance: Option<Instance>,
}

impl Lease {
    /// The instance.
    pub fn instance(&mut self) -> Option<&mut Instance> {
        self.instance.as_mut()
    }

    /// Return the instance to its pool (or retire it after `max_uses`).
    pub fn release(mut self) {
        if let Some(instance) = self.instance.take() {
            self.pool.release(instance);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.instance.take().is_some() {
            self.pool.discard();
        }
    }
}
