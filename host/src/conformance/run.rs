//! Running a case file against a component: each case on a fresh instance,
//! configured with the file's settings, with the wall clock set to the
//! case's time, through the phases the plugin declares.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Serialize;

use super::cases::EditRecord;
use super::cases::{Case, CaseFile, RecordedContext};
use super::outcome::{Outcome, edit_record, mismatches};
use crate::context::RequestContext;
use crate::plugin::PluginRuntime;
use crate::plugin::bindings::{Decision, Edit, Phase};
use crate::plugin::definition::PluginDefinition;
use crate::plugin::edits::{self, EditError, EditTarget};
use crate::plugin::instance::Instance;
use crate::plugin::set_clock::{SetClock, wall_clock_ms};
use crate::plugin::view::{RequestView, ResponseView};

/// How one case went.
#[derive(Debug, Serialize)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// What the plugin decided.
    pub outcome: Outcome,
    /// Where that differs from what was expected; empty when it passed.
    pub mismatches: Vec<String>,
}

/// How a case file went.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Every case, in file order.
    pub cases: Vec<CaseResult>,
}

impl Report {
    /// Whether every case passed.
    pub fn passed(&self) -> bool {
        self.cases.iter().all(|case| case.mismatches.is_empty())
    }
}

/// Run the cases in `cases_path` against the component at `component`.
pub async fn run_file(component: &Path, cases_path: &Path) -> anyhow::Result<Report> {
    let text = std::fs::read_to_string(cases_path)
        .with_context(|| format!("cannot read {}", cases_path.display()))?;
    let mut deserializer = serde_json::Deserializer::from_str(&text);
    let file: CaseFile = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| anyhow::anyhow!("{}: {}: {}", cases_path.display(), e.path(), e.inner()))?;
    let clock = Arc::new(SetClock::default());
    let definition = load(component, &file, clock.clone()).await?;
    let settings = serde_json::to_string(&file.settings)?;
    let timeout = Duration::from_millis(file.timeout_ms);
    let mut results = Vec::with_capacity(file.cases.len());
    for case in &file.cases {
        clock.set(case.now_ms.unwrap_or_else(|| wall_clock_ms(None)));
        let outcome = match run_case(&definition, &settings, case, timeout).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Error {
                message: format!("{e:#}"),
            },
        };
        results.push(CaseResult {
            name: case.name.clone(),
            mismatches: mismatches(&case.expect, &outcome),
            outcome,
        });
    }
    Ok(Report { cases: results })
}

/// Read and check a case file.
pub(super) fn read_cases(cases_path: &Path) -> anyhow::Result<CaseFile> {
    let text = std::fs::read_to_string(cases_path)
        .with_context(|| format!("cannot read {}", cases_path.display()))?;
    let mut deserializer = serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| anyhow::anyhow!("{}: {}: {}", cases_path.display(), e.path(), e.inner()))
}

/// Compile (through the artifact cache) and link the component as the
/// gateway would, granting what the file asks for.
pub(super) async fn load(
    component: &Path,
    file: &CaseFile,
    clock: Arc<SetClock>,
) -> anyhow::Result<Arc<PluginDefinition>> {
    let config: crate::config::Config = toml::from_str("[server]\nlisten = \"127.0.0.1:0\"\n")?;
    let runtime = PluginRuntime::new(&config, Default::default(), None)
        .map_err(|e| anyhow::anyhow!("cannot set up the plugin runtime: {e}"))?;
    // The gateway's own bounds (config/load.rs), so a case cannot run a
    // plugin in a way the gateway would refuse.
    anyhow::ensure!(
        (1..=60_000).contains(&file.timeout_ms),
        "timeout_ms: between 1 and 60000"
    );
    anyhow::ensure!(
        file.memory_limit_mib
            .is_none_or(|mib| (1..=4096).contains(&mib)),
        "memory_limit_mib: between 1 and 4096"
    );
    let mut plugin = serde_json::json!({
        "path": component,
        "role": file.role,
        "capabilities": file.capabilities,
        "timeout_ms": file.timeout_ms,
    });
    if let Some(mib) = file.memory_limit_mib {
        plugin["memory_limit_mib"] = mib.into();
    }
    let plugin: crate::config::PluginConfig =
        serde_json::from_value(plugin).context("capabilities")?;
    let mut definition = runtime
        .load_definition("under-test", &plugin)
        .await
        .with_context(|| format!("cannot load {}", component.display()))?;
    let Some(loaded) = Arc::get_mut(&mut definition) else {
        anyhow::bail!("the loaded plugin is already shared");
    };
    loaded.clock = Some(clock);
    loaded.show_output = true;
    Ok(definition)
}

async fn run_case(
    definition: &PluginDefinition,
    settings: &str,
    case: &Case,
    timeout: Duration,
) -> anyhow::Result<Outcome> {
    let mut instance = Instance::create(definition, settings).await?;
    let phases = instance.phases().await?;
    let mut request = Arc::new(request_view(case)?);
    let mut context = Arc::new(request_context(&case.context));
    let mut response = match &case.response {
        Some(recorded) => Some(Arc::new(ResponseView {
            status: recorded.status,
            headers: header_map(&recorded.headers)?,
        })),
        None => None,
    };
    let mut request_body = case.request.body.clone().map(Bytes::from);
    let mut response_body = case
        .response
        .as_ref()
        .and_then(|r| r.body.clone())
        .map(Bytes::from);
    let mut edits = Vec::new();
    for phase in [
        Phase::RequestHeaders,
        Phase::RequestBody,
        Phase::ResponseHeaders,
        Phase::ResponseBody,
    ] {
        let responding = matches!(phase, Phase::ResponseHeaders | Phase::ResponseBody);
        if responding && response.is_none() {
            break;
        }
        // Body phases run only when the case has that body.
        let lent = match phase {
            Phase::RequestBody => match &request_body {
                Some(body) => Some(body.clone()),
                None => continue,
            },
            Phase::ResponseBody => match &response_body {
                Some(body) => Some(body.clone()),
                None => continue,
            },
            _ => None,
        };
        if !phases.contains(&phase) {
            continue;
        }
        let decision = match response.as_ref().filter(|_| responding) {
            Some(answered) => {
                instance
                    .on_response(
                        phase,
                        request.clone(),
                        answered.clone(),
                        lent,
                        context.clone(),
                        timeout,
                    )
                    .await?
            }
            None => {
                instance
                    .on_request(phase, request.clone(), lent, context.clone(), timeout)
                    .await?
            }
        };
        let list = match decided(decision, &mut edits) {
            Ok(list) => list,
            Err(answer) => return Ok(answer),
        };
        // As the gateway does: checked against the plugin's role, applied
        // for the phases after, all or nothing; a response phase edits the
        // response and cannot rewrite the path.
        let (headers, path) = match response.as_mut().filter(|_| responding) {
            Some(answered) => (&mut Arc::make_mut(answered).headers, None),
            None => {
                let view = Arc::make_mut(&mut request);
                (&mut view.headers, Some((&mut view.path, &mut view.query)))
            }
        };
        let mut target = EditTarget {
            headers,
            path,
            body: match phase {
                Phase::RequestBody => request_body.as_mut(),
                Phase::ResponseBody => response_body.as_mut(),
                _ => None,
            },
            context: &mut context,
        };
        if let Err(e) = edits::apply(list, definition.role, &mut target) {
            return Ok(refused(e));
        }
    }
    Ok(Outcome::Continue { edits })
}

/// A continue's edits (recorded in `so_far` for the report), or the
/// outcome of an answer: a denial the gateway would send, or an error for
/// one it would not.
fn decided(decision: Decision, so_far: &mut Vec<EditRecord>) -> Result<Vec<Edit>, Outcome> {
    match decision {
        Decision::Continue(list) => {
            so_far.extend(list.iter().cloned().map(edit_record));
            Ok(list)
        }
        Decision::Deny(denial) if !(200..=599).contains(&denial.status) => Err(Outcome::Error {
            message: format!(
                "denied with status {}, outside 200-599: the gateway treats it as a failure",
                denial.status
            ),
        }),
        Decision::Deny(denial) => Err(Outcome::Deny {
            status: denial.status,
            reason: denial.reason,
            body: String::from_utf8_lossy(&denial.body).into_owned(),
            headers: denial.headers,
        }),
    }
}

fn refused(error: EditError) -> Outcome {
    Outcome::Error {
        message: format!("the gateway refuses the edits: {error}"),
    }
}

pub(super) fn request_view(case: &Case) -> anyhow::Result<RequestView> {
    let recorded = &case.request;
    let method = Method::from_bytes(recorded.method.as_bytes())
        .with_context(|| format!("request.method {:?}", recorded.method))?;
    let headers = header_map(&recorded.headers)?;
    let authority = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();
    Ok(RequestView {
        method,
        scheme: "http",
        authority,
        path: recorded.path.clone(),
        query: recorded.query.clone(),
        headers,
        version: http::Version::HTTP_11,
        client_ip: recorded.client_ip,
        peer_ip: recorded.client_ip,
        tls: None,
        route_id: Arc::from(recorded.route.as_str()),
        request_id: Arc::from(format!("case-{}", case.name).as_str()),
    })
}

fn header_map(pairs: &[(String, String)]) -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes())
            .with_context(|| format!("header name {name:?}"))?;
        let value = HeaderValue::from_str(value).with_context(|| format!("header {name} value"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

pub(super) fn request_context(recorded: &RecordedContext) -> RequestContext {
    RequestContext {
        principal: recorded.principal.clone(),
        scopes: recorded.scopes.clone(),
        roles: recorded.roles.clone(),
        claims: recorded
            .claims
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        country: recorded.country.clone(),
        risk_score: None,
        entries: recorded.entries.clone(),
    }
}
