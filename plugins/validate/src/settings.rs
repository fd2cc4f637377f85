//! The plugin's settings, as the route gives them.

use serde::Deserialize;
use serde_json::Value;

/// What a route asks of the plugin. Give `schema`/`schema_file` to
/// validate bodies, or `openapi`/`openapi_file` to validate whole requests.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A JSON Schema for request bodies, inline.
    pub schema: Option<Value>,
    /// A JSON Schema file for request bodies, in a mount (`/schemas/order.json`).
    /// Its `$ref`s to sibling files resolve in the same directory.
    pub schema_file: Option<String>,
    /// An OpenAPI 3.0 or 3.1 document, inline.
    pub openapi: Option<Value>,
    /// An OpenAPI 3.0 or 3.1 document (JSON) in a mount.
    pub openapi_file: Option<String>,
    /// The path prefix the document's paths sit under; by default the path
    /// of its first `servers` URL.
    pub base_path: Option<String>,
    /// The draft of schemas that do not say (`$schema`): 4, 6, 7, 2019-09 or
    /// 2020-12 (the default). OpenAPI documents imply theirs.
    pub draft: Option<String>,
    /// Whether `format` is asserted (`email`, `date-time`, ...).
    #[serde(default)]
    pub validate_formats: bool,
    /// Content types a body may have with `schema` (default: JSON only).
    pub content_types: Option<Vec<String>>,
    /// Whether POST, PUT and PATCH requests must carry a body (`schema` mode).
    #[serde(default = "yes")]
    pub require_body: bool,
    /// Largest body accepted, in bytes (413 past it).
    pub max_body_bytes: Option<u64>,
    /// Deepest nesting of a JSON body.
    pub max_depth: Option<usize>,
    /// Most object keys in a JSON body.
    pub max_keys: Option<usize>,
    /// What to do with requests no OpenAPI operation describes: `deny`
    /// (404/405, the default) or `allow`.
    #[serde(default)]
    pub unknown_operations: Unknown,
}

/// Requests outside the API description.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unknown {
    #[default]
    Deny,
    Allow,
}

fn yes() -> bool {
    true
}
