//! What a refused request is told: a status and a small JSON body naming
//! where the problem is (`in`: body, path, query or header), the field and
//! the rule it broke. Values the client sent are never echoed back.

use serde::Serialize;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// HTTP status: 400, 404, 405, 413 or 415.
    #[serde(skip)]
    pub status: u16,
    /// Short reason for logs and metrics.
    #[serde(skip)]
    pub reason: &'static str,
    /// A sentence for the client.
    pub error: String,
    /// `body`, `path`, `query`, `header` or `request`.
    #[serde(rename = "in")]
    pub location: &'static str,
    /// The field: a JSON pointer in the body, a parameter's name elsewhere.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub field: String,
    /// The rule broken: a JSON Schema keyword (`minimum`, `required`...) or
    /// one of the plugin's own (`content-type`, `max-depth`...).
    pub rule: String,
    /// Extra headers for the response (e.g. `allow` with a 405).
    #[serde(skip)]
    pub headers: Vec<(String, String)>,
}

impl Violation {
    /// A 400 for a field that broke a rule.
    pub fn invalid(
        location: &'static str,
        field: impl Into<String>,
        rule: impl Into<String>,
        error: impl Into<String>,
    ) -> Self {
        Self {
            status: 400,
            reason: "request-invalid",
            error: error.into(),
            location,
            field: field.into(),
            rule: rule.into(),
            headers: Vec::new(),
        }
    }

    /// The same violation with another status and reason.
    pub fn with_status(mut self, status: u16, reason: &'static str) -> Self {
        self.status = status;
        self.reason = reason;
        self
    }

    /// The response body.
    pub fn body(&self) -> Vec<u8> {
        // Serialising these plain fields cannot fail.
        serde_json::to_vec(self).unwrap_or_else(|_| b"{\"error\":\"invalid request\"}".to_vec())
    }
}

/// Cut a message to a length a client needs, on a character boundary.
pub fn clip(message: &str, max: usize) -> String {
    match message.char_indices().nth(max) {
        Some((at, _)) => format!("{}...", &message[..at]),
        None => message.to_string(),
    }
}
