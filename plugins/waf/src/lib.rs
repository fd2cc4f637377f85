//! `waf`: a web application firewall running the OWASP Core Rule Set on the
//! [`portcullis_waf_engine`] engine. The rules load from a directory the
//! operator mounts for the plugin (read-only), once per configured instance;
//! each request runs phase 1 in the `request-headers` phase and phase 2 in
//! the `request-body` phase (the CRS blocks on its anomaly score there), and,
//! with `inspect_responses`, phases 3 to 5 in the `response-body` phase. The
//! request's anomaly scores go into the context (`waf.inbound-anomaly-score`). Detections are logged with
//! rule ids, locations and the score, never the matched values (grant `log`).

pub mod report;
pub mod rules;
pub mod settings;

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use portcullis_sdk::{Context, Decision, Edit, Phase, Policy, Request, Response, export_policy};
use portcullis_waf_engine::{EngineMode, RequestHead, RuleSet, Suspended, Transaction};

use settings::{Mode, Settings};

/// Requests whose phase 1 an instance keeps for their body call.
const SUSPENDED_KEPT: usize = 8;

/// A configured `waf` plugin instance.
pub struct Waf {
    rules: RuleSet,
    mode: EngineMode,
    inspect_responses: bool,
    /// Transactions that ran phase 1 in the headers call, oldest first. The
    /// gateway's pool usually hands a request's body call to the instance
    /// that ran its headers call; one kept here for exactly the same
    /// request head (request id included) goes on from where it was
    /// instead of running phase 1 again.
    suspended: Mutex<VecDeque<Suspended>>,
}

impl Waf {
    pub fn from_json(json: &str) -> Result<Self, String> {
        let settings: Settings = serde_json::from_str(json).map_err(|e| e.to_string())?;
        settings.check()?;
        Ok(Waf {
            rules: rules::load(&settings)?,
            mode: match settings.mode {
                Mode::Block => EngineMode::On,
                Mode::Detect => EngineMode::DetectionOnly,
            },
            inspect_responses: settings.inspect_responses,
            suspended: Mutex::new(VecDeque::new()),
        })
    }

    fn transaction(&self, request: &Request) -> Transaction<'_> {
        Transaction::new(&self.rules, head(request), self.mode)
    }

    /// Keeps a transaction that ran phase 1 for the request's body call.
    fn suspend(&self, transaction: Transaction<'_>) {
        let mut kept = self
            .suspended
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if kept.len() == SUSPENDED_KEPT {
            kept.pop_front();
        }
        kept.push_back(transaction.suspend());
    }

    /// The request's transaction after phase 1: the one the headers call
    /// kept, or phase 1 run again.
    fn after_phase_one(&self, request: &Request) -> Transaction<'_> {
        let head = head(request);
        let resumed = {
            let mut kept = self
                .suspended
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            kept.iter()
                .position(|suspended| suspended.head() == &head)
                .and_then(|at| kept.remove(at))
        };
        match resumed {
            Some(suspended) => Transaction::resume(&self.rules, suspended),
            None => {
                let mut transaction = Transaction::new(&self.rules, head, self.mode);
                transaction.request_headers();
                transaction
            }
        }
    }
}

/// The request as the engine reads it.
fn head(request: &Request) -> RequestHead {
    let mut target = request.path();
    if let Some(query) = request.query() {
        target.push('?');
        target.push_str(&query);
    }
    RequestHead {
        method: request.method(),
        target,
        protocol: request.version(),
        headers: request
            .raw_headers()
            .into_iter()
            .map(|(name, value)| (name.into_bytes(), value))
            .collect(),
        remote_addr: request.client_ip(),
        unique_id: request.request_id(),
    }
}

fn log(request: &Request, stage: &str, transaction: &Transaction<'_>, score_variable: &str) {
    if transaction.detections().is_empty() {
        return;
    }
    let outcome = match (transaction.interruption(), transaction.mode()) {
        (Some(_), _) => "blocked",
        (None, EngineMode::On) => "passed",
        _ => "detected",
    };
    portcullis_sdk::host::log_warn(&report::line(
        &request.request_id(),
        stage,
        transaction.detections(),
        transaction.tx_number(score_variable),
        outcome,
    ));
}

/// The denial, its reason naming the rules that matched (for the audit
/// log; the client sees only that the firewall blocked it).
fn blocked(transaction: &Transaction<'_>, status: u16) -> Decision {
    let mut rules: Vec<u32> = transaction.detections().iter().map(|d| d.rule_id).collect();
    rules.sort_unstable();
    rules.dedup();
    let listed: Vec<String> = rules.iter().take(16).map(u32::to_string).collect();
    // Blocks by rule, in the gateway's metrics.
    for rule in &listed {
        portcullis_sdk::host::count("blocked_by_rule", Some(rule), 1);
    }
    Decision::deny_json(
        status,
        &format!("waf-blocked rules={}", listed.join(",")),
        "request blocked by the web application firewall",
    )
}

/// Context entries that carry the request's scores to later plugins and to
/// this plugin's response phase (which another instance may serve).
const SCORE_ENTRIES: [(&str, &str); 2] = [
    (
        "waf.inbound-anomaly-score",
        "blocking_inbound_anomaly_score",
    ),
    (
        "waf.detection-inbound-anomaly-score",
        "detection_inbound_anomaly_score",
    ),
];

impl Policy for Waf {
    const PHASES: &'static [Phase] = &[Phase::RequestHeaders, Phase::RequestBody];

    fn phases(&self) -> Vec<Phase> {
        let mut phases = vec![Phase::RequestHeaders, Phase::RequestBody];
        if self.inspect_responses {
            phases.push(Phase::ResponseBody);
        }
        phases
    }

    fn configure(config: &str) -> Result<Self, String> {
        Waf::from_json(config)
    }

    /// Phase 1 runs on the headers, before any body is read: its matches are
    /// logged there, and the CRS's early blocking can refuse the request
    /// before an upload is buffered. The body phase goes on from phase 1's
    /// state (kept by this instance, or phase 1 run again: its matches were
    /// reported already), then runs phase 2, where the CRS decides on the
    /// anomaly score.
    fn on_request(&self, phase: Phase, request: &Request, _context: &Context) -> Decision {
        if phase == Phase::RequestHeaders {
            let mut transaction = self.transaction(request);
            transaction.request_headers();
            log(
                request,
                "headers",
                &transaction,
                "blocking_inbound_anomaly_score",
            );
            return match transaction.interruption() {
                Some(interruption) => blocked(&transaction, interruption.status),
                None => {
                    self.suspend(transaction);
                    Decision::allow()
                }
            };
        }
        let mut transaction = self.after_phase_one(request);
        transaction.clear_detections();
        let body = request.body().map(|body| body.bytes()).unwrap_or_default();
        transaction.request_body(&body);
        log(
            request,
            "request",
            &transaction,
            "blocking_inbound_anomaly_score",
        );
        if let Some(interruption) = transaction.interruption() {
            return blocked(&transaction, interruption.status);
        }
        let entries = SCORE_ENTRIES
            .iter()
            .map(|(entry, variable)| {
                Edit::SetEntry((
                    entry.to_string(),
                    transaction.tx_number(variable).to_string(),
                ))
            })
            .collect();
        Decision::allow_with(entries)
    }

    fn on_response(
        &self,
        _phase: Phase,
        request: &Request,
        response: &Response,
        context: &Context,
    ) -> Decision {
        let mut transaction = self.transaction(request);
        transaction.request_headers();
        transaction.clear_detections();
        for (entry, variable) in SCORE_ENTRIES {
            if let Some(score) = context.get(entry) {
                transaction.set_tx(variable, &score);
            }
        }
        let headers = response
            .headers()
            .into_iter()
            .map(|(name, value)| (name.into_bytes(), value.into_bytes()))
            .collect();
        transaction.response_headers(response.status(), "HTTP/1.1", headers);
        let body = response.body().map(|body| body.bytes()).unwrap_or_default();
        transaction.response_body(&body);
        transaction.logging();
        log(
            request,
            "response",
            &transaction,
            "blocking_outbound_anomaly_score",
        );
        match transaction.interruption() {
            Some(interruption) => blocked(&transaction, interruption.status),
            None => Decision::allow(),
        }
    }
}

export_policy!(Waf);
