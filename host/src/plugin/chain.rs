//! A route's plugin chain: request phases in configured order, response
//! phases in reverse. Each link runs on an instance from its pool; a
//! denial stops the chain; a failure fails closed (503) or, where the
//! plugin is configured `on_error = "allow"`, skips that plugin.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use smallvec::SmallVec;

use super::authorizer::{Authorizer, Gate};
use super::bindings::{Decision, Denial, Phase};
use super::breaker::{Admission, BreakerState};
use super::definition::PluginDefinition;
use super::edits::{CheckedEdits, EditTarget, Edits};
use super::instance::CallError;
use super::pool::{InstancePool, Lease};
use super::ruling::Ruling;
use super::view::{RequestView, ResponseView};
use crate::config::{OnError, OverBudget};
use crate::context::RequestContext;
use crate::error::GatewayError;

/// What the chain decided for one phase.
pub enum Flow {
    /// Carry on.
    Continue,
    /// Answer with this response.
    Deny {
        /// The plugin that denied.
        plugin: Arc<str>,
        /// Its response.
        denial: Denial,
    },
}

/// The body lent to a body phase.
pub struct PhaseBody<'a> {
    /// The buffered bytes (the prefix, when `complete` is false).
    pub bytes: &'a mut Bytes,
    /// Whether `bytes` is the whole body.
    pub complete: bool,
}

/// The plugin time one request may spend across every phase of its chain
/// (`runtime.chain_budget_ms`). It is checked before each call, so a
/// request overruns it by at most one plugin's own `timeout_ms`.
#[derive(Debug, Clone, Default)]
pub struct ChainRun {
    limit: Option<Duration>,
    spent: Duration,
    /// Each plugin call of the request so far, for its access log line.
    pub calls: Vec<PluginOutcome>,
}

/// What one plugin call came to.
#[derive(Debug, Clone)]
pub struct PluginOutcome {
    /// The plugin.
    pub plugin: Arc<str>,
    /// The phase, as the WIT names it.
    pub phase: &'static str,
    /// Allowed, denied, failed, timed out, or skipped by its breaker.
    pub outcome: Outcome,
    /// When it started.
    pub started: Instant,
    /// How long it took.
    pub duration: Duration,
}

/// A plugin call's outcome. The order indexes the metric handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Continued (with or without edits).
    Allow,
    /// Denied.
    Deny,
    /// Trapped, or could not get an instance.
    Error,
    /// Ran past its deadline.
    Timeout,
    /// Not called: its breaker is open.
    Skipped,
}

impl Outcome {
    /// The label in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Skipped => "skipped",
        }
    }
}

/// The WIT name of a phase.
pub fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::RequestHeaders => "request-headers",
        Phase::RequestBody => "request-body",
        Phase::ResponseHeaders => "response-headers",
        Phase::ResponseBody => "response-body",
    }
}

/// Why a call gave no decision.
struct Failure {
    reason: String,
    outcome: Outcome,
}

impl ChainRun {
    /// A budget of `limit`, or none.
    pub fn new(limit: Option<Duration>) -> Self {
        Self {
            limit,
            spent: Duration::ZERO,
            calls: Vec::new(),
        }
    }

    /// Record a call that started at `started` and took `duration` in the
    /// request's trace and the metrics.
    fn note(
        &mut self,
        definition: &PluginDefinition,
        phase: Phase,
        outcome: Outcome,
        started: Instant,
        duration: Duration,
    ) {
        let telemetry = crate::telemetry::get();
        if telemetry.metrics_on {
            count_call(telemetry, definition, phase, outcome, duration);
        }
        self.calls.push(PluginOutcome {
            plugin: definition.name.clone(),
            phase: phase_name(phase),
            outcome,
            started,
            duration,
        });
    }

    /// No budget.
    pub fn unlimited() -> Self {
        Self::new(None)
    }

    fn exhausted(&self) -> bool {
        self.limit.is_some_and(|limit| self.spent >= limit)
    }
}

/// Count one plugin call in the metrics.
fn count_call(
    telemetry: &crate::telemetry::Telemetry,
    definition: &PluginDefinition,
    phase: Phase,
    outcome: Outcome,
    duration: Duration,
) {
    let phase_index = match phase {
        Phase::RequestHeaders => 0,
        Phase::RequestBody => 1,
        Phase::ResponseHeaders => 2,
        Phase::ResponseBody => 3,
    };
    let outcome_index = outcome as usize;
    definition.metrics.call(
        &telemetry.metrics,
        (phase_index, phase_name(phase)),
        (outcome_index, outcome.as_str()),
        (outcome != Outcome::Skipped).then_some(duration.as_secs_f64()),
    );
}

/// One plugin of a chain: its instance pool and, for an authorizer, the
/// identity gate and decision cache in front of it.
#[derive(Clone)]
pub struct Link {
    /// Instances configured with this route's settings.
    pub pool: Arc<InstancePool>,
    /// Set for `role = "authorizer"`.
    pub authorizer: Option<Arc<Authorizer>>,
}

/// A route's chain.
#[derive(Clone, Default)]
pub struct Chain {
    links: Vec<Link>,
    budget: Option<Duration>,
}

impl Chain {
    /// A chain of these links, in request order, whose calls for one
    /// request may take `budget` together.
    pub fn new(links: Vec<Link>, budget: Option<Duration>) -> Self {
        Self { links, budget }
    }

    /// A fresh budget for one request.
    pub fn budget(&self) -> ChainRun {
        ChainRun::new(self.budget)
    }

    /// Its links, in request order.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// Whether the chain is empty.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// The largest body budget of the links that implement `phase` (a body
    /// phase) and read a body of the `Content-Type` given, if any do. The
    /// type is looked up only when some link has the phase.
    pub fn body_budget<'a>(
        &self,
        phase: Phase,
        content_type: impl FnOnce() -> Option<&'a [u8]>,
    ) -> Option<u64> {
        if !self.has_phase(phase) {
            return None;
        }
        let content_type = content_type();
        self.links
            .iter()
            .filter(|l| {
                l.pool.has_phase(phase) && l.pool.definition.body_types.admits(content_type)
            })
            .map(|l| l.pool.definition.body_budget)
            .max()
    }

    /// Whether any link implements `phase`.
    pub fn has_phase(&self, phase: Phase) -> bool {
        self.links.iter().any(|l| l.pool.has_phase(phase))
    }

    /// Run `request-headers` or `request-body`.
    pub async fn on_request(
        &self,
        phase: Phase,
        request: &mut Arc<RequestView>,
        mut body: Option<PhaseBody<'_>>,
        context: &mut Arc<RequestContext>,
        budget: &mut ChainRun,
    ) -> Result<Flow, GatewayError> {
        // A plain loop: an iterator adapter with a closure, held across the
        // awaits below, makes the future not provably `Send`.
        for Link {
            pool: link,
            authorizer,
        } in &self.links
        {
            if !link.has_phase(phase) {
                continue;
            }
            let definition = &link.definition;
            let lent_body = match lend(definition, &body, &request.headers) {
                Lent::Body(bytes) => bytes,
                Lent::Skip => continue,
                Lent::OverBudget => return Err(GatewayError::PayloadTooLarge),
            };
            let started = Instant::now();
            let outcome = match (authorizer, phase) {
                // A cached or refused identity costs no call, so no budget.
                (Some(authorizer), Phase::RequestHeaders) => {
                    match authorizer.gate(request, context) {
                        Gate::Refuse(denial) => Ok(Ruling::Deny(denial)),
                        Gate::Known(decision) => Ok(decision.into()),
                        Gate::Ask(pending) => match authorizer.recall(&pending).await {
                            // Another instance's decision: no call either.
                            Some(decision) => Ok(decision.into()),
                            None => {
                                over_budget(link, budget)?;
                                call(link, phase, request.clone(), None, None, context.clone())
                                    .await
                                    .map(|decision| authorizer.settle(pending, decision).into())
                            }
                        },
                    }
                }
                _ => decide(link, phase, request, None, lent_body, context, budget).await?,
            };
            let elapsed = started.elapsed();
            budget.spent += elapsed;
            let decision = match outcome {
                Ok(decision) => decision,
                Err(failure) => {
                    budget.note(definition, phase, failure.outcome, started, elapsed);
                    fail(link, phase, &failure.reason, started)?;
                    skipped(authorizer.as_deref(), request);
                    continue;
                }
            };
            let verdict = match &decision {
                Ruling::Deny(_) => Outcome::Deny,
                Ruling::Continue(_) => Outcome::Allow,
            };
            budget.note(definition, phase, verdict, started, elapsed);
            match decision {
                Ruling::Deny(denial) => {
                    match deny(link, phase, denial, started, &request.request_id)? {
                        Some(flow) => return Ok(flow),
                        // An unusable denial from a plugin that fails open:
                        // skip it and run the rest of the chain.
                        None => {
                            skipped(authorizer.as_deref(), request);
                            continue;
                        }
                    }
                }
                Ruling::Continue(edits) if edits.is_empty() => {}
                Ruling::Continue(edits) => {
                    let view = Arc::make_mut(request);
                    let mut target = EditTarget {
                        headers: &mut view.headers,
                        path: Some((&mut view.path, &mut view.query)),
                        body: body.as_mut().map(|b| &mut *b.bytes),
                        context,
                    };
                    if let Err(e) = edits.apply(definition.role, &mut target) {
                        fail(link, phase, &e.to_string(), started)?;
                    }
                }
            }
            tracing::debug!(
                plugin = &*definition.name,
                ?phase,
                elapsed_us = started.elapsed().as_micros() as u64,
                "allowed"
            );
        }
        Ok(Flow::Continue)
    }

    /// Run `response-headers` or `response-body`, in reverse chain order.
    pub async fn on_response(
        &self,
        phase: Phase,
        request: &Arc<RequestView>,
        response: &mut Arc<ResponseView>,
        mut body: Option<PhaseBody<'_>>,
        context: &mut Arc<RequestContext>,
        budget: &mut ChainRun,
    ) -> Result<Flow, GatewayError> {
        for Link { pool: link, .. } in self.links.iter().rev() {
            if !link.has_phase(phase) {
                continue;
            }
            let definition = &link.definition;
            let lent_body = match lend(definition, &body, &response.headers) {
                Lent::Body(bytes) => bytes,
                Lent::Skip => continue,
                Lent::OverBudget => {
                    return Err(GatewayError::BadUpstreamResponse(format!(
                        "response body over the budget of plugin {}",
                        definition.name
                    )));
                }
            };
            let started = Instant::now();
            let outcome = decide(
                link,
                phase,
                request,
                Some(response),
                lent_body,
                context,
                budget,
            )
            .await?;
            let elapsed = started.elapsed();
            budget.spent += elapsed;
            let decision = match outcome {
                Ok(decision) => decision,
                Err(failure) => {
                    budget.note(definition, phase, failure.outcome, started, elapsed);
                    fail(link, phase, &failure.reason, started)?;
                    continue;
                }
            };
            let verdict = match &decision {
                Ruling::Deny(_) => Outcome::Deny,
                Ruling::Continue(_) => Outcome::Allow,
            };
            budget.note(definition, phase, verdict, started, elapsed);
            match decision {
                Ruling::Deny(denial) => {
                    match deny(link, phase, denial, started, &request.request_id)? {
                        Some(flow) => return Ok(flow),
                        // An unusable denial from a plugin that fails open:
                        // skip it and run the rest of the chain.
                        None => continue,
                    }
                }
                Ruling::Continue(edits) if edits.is_empty() => {}
                Ruling::Continue(edits) => {
                    let view = Arc::make_mut(response);
                    let mut target = EditTarget {
                        headers: &mut view.headers,
                        path: None,
                        body: body.as_mut().map(|b| &mut *b.bytes),
                        context,
                    };
                    if let Err(e) = edits.apply(definition.role, &mut target) {
                        fail(link, phase, &e.to_string(), started)?;
                    }
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// The `response-headers` phase on kept decisions alone, where every
    /// link with the phase has one that was made without reading the
    /// response and only edits header fields: looked up before the
    /// response is there (the decisions follow from the request and the
    /// context alone). `None`, with nothing counted, when any link must
    /// see the response: the phase then runs as usual.
    pub fn kept_response(
        &self,
        request: &RequestView,
        context: &RequestContext,
    ) -> Option<KeptResponse<'_>> {
        let phase = Phase::ResponseHeaders;
        let mut links = SmallVec::new();
        for Link { pool: link, .. } in self.links.iter().rev() {
            if !link.has_phase(phase) {
                continue;
            }
            match link
                .decisions_for(phase)?
                .recall_without_response(request, context)?
            {
                Ruling::Continue(Edits::Kept(edits)) if edits.only_fields() => {
                    links.push((&**link, edits));
                }
                _ => return None,
            }
        }
        Some(KeptResponse { links })
    }
}

/// A `response-headers` phase's kept decisions, each link's edits in the
/// phase's order (see [`Chain::kept_response`]).
pub struct KeptResponse<'a> {
    links: SmallVec<[(&'a InstancePool, CheckedEdits); 4]>,
}

impl KeptResponse<'_> {
    /// Give each link's decision: count it as given again and apply its
    /// edits with `edit`.
    pub fn apply(self, budget: &mut ChainRun, mut edit: impl FnMut(&CheckedEdits)) {
        let phase = Phase::ResponseHeaders;
        for (link, edits) in self.links {
            let started = Instant::now();
            let definition = &link.definition;
            count_reuse(definition);
            edit(&edits);
            let elapsed = started.elapsed();
            budget.spent += elapsed;
            budget.note(definition, phase, Outcome::Allow, started, elapsed);
        }
    }
}

/// Refuse to call `link` once the request's plugin time is spent: fail
/// closed whatever the plugin's `on_error`, since skipping the rest of a
/// chain would let the request by unchecked.
fn over_budget(link: &InstancePool, budget: &ChainRun) -> Result<(), GatewayError> {
    if !budget.exhausted() {
        return Ok(());
    }
    let plugin = &*link.definition.name;
    tracing::warn!(
        plugin,
        spent_us = budget.spent.as_micros() as u64,
        outcome = "over-budget",
        "the request's plugin time budget is spent"
    );
    Err(GatewayError::PluginFailed {
        plugin: plugin.to_string(),
        reason: "runtime.chain_budget_ms spent".into(),
    })
}

/// A plugin failed open and was skipped: if it is an authorizer, the
/// headers its context would have set are removed, not left as the client
/// sent them.
fn skipped(authorizer: Option<&Authorizer>, request: &mut Arc<RequestView>) {
    if let Some(authorizer) = authorizer {
        authorizer.strip_context_headers(&mut Arc::make_mut(request).headers);
    }
}

/// Return the instance to its pool after a clean call; after a trap or
/// timeout the lease is dropped, which discards the instance, since its
/// memory may be in any state.
fn finish(lease: Lease, result: Result<Decision, CallError>) -> Result<Decision, Failure> {
    match result {
        Ok(decision) => {
            lease.release();
            Ok(decision)
        }
        Err(e) => {
            drop(lease);
            let outcome = match e {
                CallError::Timeout(_) => Outcome::Timeout,
                _ => Outcome::Error,
            };
            Err(Failure {
                reason: e.to_string(),
                outcome,
            })
        }
    }
}

/// What a link gets of a body phase's body.
enum Lent {
    /// The body (or none, outside body phases).
    Body(Option<Bytes>),
    /// Not for this plugin: of a type it does not read, or too big for a
    /// plugin that then skips its body phase.
    Skip,
    /// Too big, and the plugin refuses the exchange.
    OverBudget,
}

/// `headers` are the request's or response's whose body this is (the
/// type may have changed since the body was buffered: it is judged as
/// the plugin would see it).
fn lend(definition: &PluginDefinition, body: &Option<PhaseBody<'_>>, headers: &HeaderMap) -> Lent {
    match body {
        None => Lent::Body(None),
        Some(_) if !definition.body_types.admits_headers(headers) => Lent::Skip,
        Some(b) if b.complete && b.bytes.len() as u64 <= definition.body_budget => {
            Lent::Body(Some(b.bytes.clone()))
        }
        Some(_) => match definition.over_budget {
            OverBudget::Deny => Lent::OverBudget,
            OverBudget::Skip => Lent::Skip,
        },
    }
}

/// `link`'s decision on this exchange: one it said may be given again
/// (no call, so no plugin time), else a call, refused once the request's
/// plugin time is spent.
async fn decide(
    link: &Arc<InstancePool>,
    phase: Phase,
    request: &Arc<RequestView>,
    response: Option<&Arc<ResponseView>>,
    body: Option<Bytes>,
    context: &Arc<RequestContext>,
    budget: &ChainRun,
) -> Result<Result<Ruling, Failure>, GatewayError> {
    if let Some(ruling) = recall(link, phase, request, response.map(|r| &**r), context) {
        return Ok(Ok(ruling));
    }
    over_budget(link, budget)?;
    Ok(call(
        link,
        phase,
        request.clone(),
        response.cloned(),
        body,
        context.clone(),
    )
    .await
    .map(Ruling::from))
}

/// A kept headers-phase decision of `link` for this request (and, in
/// `response-headers`, this response).
fn recall(
    link: &InstancePool,
    phase: Phase,
    request: &RequestView,
    response: Option<&ResponseView>,
    context: &RequestContext,
) -> Option<Ruling> {
    let ruling = link
        .decisions_for(phase)?
        .recall(request, response, context)?;
    count_reuse(&link.definition);
    Some(ruling)
}

/// A kept decision was given instead of a call: in the admin API's
/// counts and the metrics.
fn count_reuse(definition: &PluginDefinition) {
    definition.stats.reused.fetch_add(1, Ordering::Relaxed);
    definition.metrics.reused.inc();
}

/// One call on an instance leased from `link`: a request phase, or a
/// response phase when `response` is given.
async fn call(
    link: &Arc<InstancePool>,
    phase: Phase,
    request: Arc<RequestView>,
    response: Option<Arc<ResponseView>>,
    body: Option<Bytes>,
    context: Arc<RequestContext>,
) -> Result<Decision, Failure> {
    let definition = &link.definition;
    let admission = definition.breaker.admit();
    if admission == Admission::Skip {
        definition.stats.skipped.fetch_add(1, Ordering::Relaxed);
        return Err(Failure {
            reason: "the plugin's breaker is open".into(),
            outcome: Outcome::Skipped,
        });
    }
    let mut lease = match link.acquire().await {
        Ok(lease) => lease,
        Err(e) => {
            // No instance, so no trial: let the next request have one.
            definition.breaker.abandon(admission);
            return Err(Failure {
                reason: e.to_string(),
                outcome: Outcome::Error,
            });
        }
    };
    let timeout = definition.timeout;
    definition.stats.calls.fetch_add(1, Ordering::Relaxed);
    let result = match lease.instance() {
        Some(instance) => {
            // Only headers-phase decisions are kept: a body is not a
            // getter's value.
            let decisions = link.decisions_for(phase);
            let seen = decisions.map(|_| {
                instance.record();
                let views = (request.clone(), response.clone(), context.clone());
                (Instant::now(), views)
            });
            let result = match response {
                None => {
                    instance
                        .on_request(phase, request, body, context, timeout)
                        .await
                }
                Some(response) => {
                    instance
                        .on_response(phase, request, response, body, context, timeout)
                        .await
                }
            };
            if let (Some(decisions), Some((called, (request, response, context))), Ok(decision)) =
                (decisions, seen, &result)
                && let Some(recording) = instance.take_recording()
            {
                decisions.remember(
                    recording,
                    called,
                    &request,
                    response.as_deref(),
                    &context,
                    || Ruling::kept(decision, definition.role, phase),
                );
            }
            result
        }
        None => Err(CallError::Trap("instance already returned".into())),
    };
    let failed = result.is_err();
    if failed {
        definition.stats.failures.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(state) = definition.breaker.record(admission, failed) {
        match state {
            BreakerState::Open => tracing::warn!(
                target: "audit",
                plugin = &*definition.name,
                "plugin breaker opened: calls skipped until the cooldown ends"
            ),
            _ => tracing::info!(
                target: "audit",
                plugin = &*definition.name,
                breaker = ?state,
                "plugin breaker closed: the trial call succeeded"
            ),
        }
    }
    finish(lease, result)
}

/// A plugin failed: skip it if it fails open, else fail the request.
fn fail(
    link: &InstancePool,
    phase: Phase,
    reason: &str,
    started: Instant,
) -> Result<(), GatewayError> {
    let plugin = &*link.definition.name;
    let elapsed_us = started.elapsed().as_micros() as u64;
    match link.definition.on_error {
        OnError::Allow => {
            tracing::warn!(
                plugin,
                ?phase,
                elapsed_us,
                outcome = "failed-open",
                "plugin failed: {reason}"
            );
            Ok(())
        }
        OnError::Deny => {
            tracing::warn!(
                plugin,
                ?phase,
                elapsed_us,
                outcome = "failed",
                "plugin failed: {reason}"
            );
            Err(GatewayError::PluginFailed {
                plugin: plugin.to_string(),
                reason: reason.to_string(),
            })
        }
    }
}

/// A denial reason as a metric label: the plugin's short code (its first
/// word), if it is one.
fn reason_label(reason: &str) -> String {
    let code = reason.split_whitespace().next().unwrap_or("");
    if !code.is_empty()
        && code.len() <= 48
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    {
        code.to_string()
    } else {
        "other".to_string()
    }
}

/// A plugin denied: check its response is one the gateway will send.
/// `None` means the denial was unusable and the plugin fails open.
fn deny(
    link: &InstancePool,
    phase: Phase,
    denial: Denial,
    started: Instant,
    request_id: &str,
) -> Result<Option<Flow>, GatewayError> {
    let plugin = &link.definition.name;
    if !(200..=599).contains(&denial.status) {
        let reason = format!("denied with status {}, outside 200-599", denial.status);
        fail(link, phase, &reason, started)?;
        return Ok(None);
    }
    link.definition
        .stats
        .denials
        .fetch_add(1, Ordering::Relaxed);
    let definition = &link.definition;
    if definition.role.authenticates() && matches!(denial.status, 401 | 403) {
        crate::telemetry::get()
            .metrics
            .auth_failure(plugin, &reason_label(&denial.reason));
    }
    // Every block (authentication, authorization, WAF with its rule ids,
    // geo) is an audit event; answers below 400 (a CORS preflight) are not
    // blocks.
    if denial.status < 400 {
        return Ok(Some(Flow::Deny {
            plugin: plugin.clone(),
            denial,
        }));
    }
    tracing::info!(
        target: "audit",
        request_id,
        plugin = &**plugin,
        phase = phase_name(phase),
        status = denial.status,
        reason = %denial.reason,
        elapsed_us = started.elapsed().as_micros() as u64,
        "plugin denied the request"
    );
    Ok(Some(Flow::Deny {
        plugin: plugin.clone(),
        denial,
    }))
}
