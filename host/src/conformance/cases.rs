//! The case file: settings for `configure`, then cases, each a recorded
//! request (and optionally a context, a response and the wall-clock time it
//! was recorded at) with the decision expected.
//!
//! ```json
//! {
//!   "settings": { "secret": "..." },
//!   "capabilities": [],
//!   "cases": [
//!     {
//!       "name": "a fresh signature passes",
//!       "now_ms": 1700000000000,
//!       "request": { "method": "GET", "path": "/orders",
//!                    "headers": [["x-tenant", "acme"]] },
//!       "expect": { "decision": "continue",
//!                   "context": { "principal": "acme", "entries": { "tenant": "acme" } } }
//!     },
//!     {
//!       "name": "no signature",
//!       "request": { "path": "/orders" },
//!       "expect": { "decision": "deny", "status": 401, "reason": "missing" }
//!     }
//!   ]
//! }
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

/// A whole case file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// What `configure` gets, as JSON (as a route's `settings` would be).
    #[serde(default = "empty_object")]
    pub settings: serde_json::Value,
    /// Host interfaces granted (none by default).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// The plugin's role, as in `[plugins.NAME] role`: what its edits may
    /// write (only `authentication` and `authorizer` set the principal).
    #[serde(default = "policy_role")]
    pub role: String,
    /// The budget of one call, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The memory cap of the instance, in MiB (the gateway's default when
    /// absent).
    pub memory_limit_mib: Option<u32>,
    /// The cases, run in order, each on a fresh instance.
    pub cases: Vec<Case>,
}

fn policy_role() -> String {
    "policy".into()
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

fn default_timeout_ms() -> u64 {
    1_000
}

/// One recorded exchange and what the plugin must decide.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Shown in the report.
    pub name: String,
    /// The wall-clock time the plugin sees (Unix ms); the real time when
    /// absent.
    pub now_ms: Option<u64>,
    /// The request.
    #[serde(default)]
    pub request: RecordedRequest,
    /// The context as earlier plugins left it.
    #[serde(default)]
    pub context: RecordedContext,
    /// The upstream's response, for plugins with response phases.
    pub response: Option<RecordedResponse>,
    /// The decision expected.
    pub expect: Expected,
}

/// A request as the plugin sees it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordedRequest {
    /// Method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Query, without `?`.
    pub query: Option<String>,
    /// Headers, in order; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// The client's address.
    pub client_ip: IpAddr,
    /// The route id.
    pub route: String,
    /// The body, for plugins with a `request-body` phase.
    pub body: Option<String>,
}

impl Default for RecordedRequest {
    fn default() -> Self {
        Self {
            method: "GET".into(),
            path: "/".into(),
            query: None,
            headers: Vec::new(),
            client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            route: "test".into(),
            body: None,
        }
    }
}

/// The request context handed to the plugin.
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RecordedContext {
    /// The authenticated identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// OAuth scopes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Roles.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Claims.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, String>,
    /// Country code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Free entries.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub entries: BTreeMap<String, String>,
}

/// An upstream response.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedResponse {
    /// Status.
    #[serde(default = "ok")]
    pub status: u16,
    /// Headers.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body, for plugins with a `response-body` phase.
    pub body: Option<String>,
}

fn ok() -> u16 {
    200
}

/// The decision a case expects. Only what is given is checked.
#[derive(Debug, Deserialize)]
#[serde(tag = "decision", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Expected {
    /// The request goes on.
    Continue {
        /// Exactly these edits, in this order.
        edits: Option<Vec<EditRecord>>,
        /// The edits set at least these context fields.
        context: Option<RecordedContext>,
    },
    /// The plugin answers.
    Deny {
        /// Status.
        status: u16,
        /// The reason given for logs.
        reason: Option<String>,
        /// The body, as text.
        body: Option<String>,
        /// Headers the answer carries (names in any case).
        headers: Option<Vec<(String, String)>>,
    },
}

/// An edit, in the file's form: `{"set-entry": ["tenant", "acme"]}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EditRecord {
    /// Set a request header.
    SetHeader((String, String)),
    /// Add a request header value.
    AppendHeader((String, String)),
    /// Remove a request header.
    RemoveHeader(String),
    /// Rewrite the path.
    RewritePath(String),
    /// Replace the body (shown as text).
    ReplaceBody(String),
    /// Set the principal.
    SetPrincipal(String),
    /// Add scopes.
    AddScopes(Vec<String>),
    /// Add roles.
    AddRoles(Vec<String>),
    /// Set a claim.
    SetClaim((String, String)),
    /// Set the country.
    SetCountry(String),
    /// Set the risk score.
    SetRiskScore(u32),
    /// Set a free entry.
    SetEntry((String, String)),
}
