//! `validate`: requests checked against a JSON Schema (bodies) or an
//! OpenAPI 3.x document (path, query and header parameters and bodies)
//! before they reach the upstream. Schemas compile once per instance
//! ([`schema`]); a request that breaks one gets 400 naming the field and
//! the rule ([`violation`]), a wrong Content-Type 415, an oversized body
//! 413, and under OpenAPI an undescribed path 404 and method 405.

// A violation is built at most once per refused request and read right
// away; boxing it would buy nothing on the path that matters.
#![allow(clippy::result_large_err)]

pub mod limits;
pub mod media;
pub mod openapi;
pub mod retriever;
pub mod schema;
mod settings;
mod strict_json;
pub mod violation;

use portcullis_sdk::{Context, Decision, Denial, Phase, Policy, Request, export_policy};
use serde_json::Value;

use limits::JsonLimits;
use media::MediaRange;
use openapi::Api;
use retriever::DirectoryRetriever;
use schema::{CompileOptions, Schema};
use settings::{Settings, Unknown};
use violation::Violation;

/// The parts of a request head the checks read.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    /// Method, upper-case.
    pub method: &'a str,
    /// Path as received.
    pub path: &'a str,
    /// Query string, if any.
    pub query: Option<&'a str>,
    /// Headers, names lower-case.
    pub headers: &'a [(String, String)],
}

impl Head<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// Whether the request says it carries a body.
    fn announces_body(&self) -> bool {
        self.header("transfer-encoding").is_some()
            || self
                .header("content-length")
                .is_some_and(|length| length.trim() != "0")
    }
}

enum Mode {
    Body {
        schema: Schema,
        content_types: Vec<MediaRange>,
        require_body: bool,
    },
    Api {
        api: Api,
        unknown: Unknown,
    },
}

/// A configured `validate` plugin instance.
pub struct RequestValidator {
    mode: Mode,
    limits: JsonLimits,
    max_body: Option<u64>,
}

impl RequestValidator {
    /// Parse settings (JSON) and compile the schemas.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let settings: Settings = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let mut options = CompileOptions {
            draft: settings
                .draft
                .as_deref()
                .map(schema::parse_draft)
                .transpose()?,
            validate_formats: settings.validate_formats,
            ..CompileOptions::default()
        };
        let limits = JsonLimits {
            max_depth: settings
                .max_depth
                .unwrap_or(JsonLimits::default().max_depth),
            max_keys: settings.max_keys.unwrap_or(JsonLimits::default().max_keys),
        };
        let mode = match (
            &settings.schema,
            &settings.schema_file,
            &settings.openapi,
            &settings.openapi_file,
        ) {
            (Some(schema), None, None, None) => body_mode(&settings, schema, &options)?,
            (None, Some(file), None, None) => {
                let schema = read_json(file, "schema_file")?;
                options.base_uri = Some(format!("file://{file}"));
                options.retriever = directory_of(file);
                body_mode(&settings, &schema, &options)?
            }
            (None, None, Some(document), None) => api_mode(&settings, document, &options)?,
            (None, None, None, Some(file)) => {
                let document = read_json(file, "openapi_file")?;
                options.retriever = directory_of(file);
                api_mode(&settings, &document, &options)?
            }
            _ => {
                return Err(
                    "give exactly one of `schema`, `schema_file`, `openapi` and `openapi_file`"
                        .into(),
                );
            }
        };
        Ok(Self {
            mode,
            limits,
            max_body: settings.max_body_bytes,
        })
    }

    /// Whether bodies are checked, so the plugin needs the body phase.
    pub fn needs_body(&self) -> bool {
        match &self.mode {
            Mode::Body { .. } => true,
            Mode::Api { api, .. } => api.has_bodies(),
        }
    }

    /// Checks on the request head: the operation, parameters, declared
    /// size and Content-Type.
    pub fn check_head(&self, head: &Head<'_>) -> Result<(), Violation> {
        let declared = head
            .header("content-length")
            .and_then(|l| l.trim().parse::<u64>().ok());
        self.check_size(declared.unwrap_or(0))?;
        if head
            .headers
            .iter()
            .filter(|(name, _)| name == "content-type")
            .count()
            > 1
        {
            return Err(Violation::invalid(
                "header",
                "content-type",
                "repeated",
                "the request has more than one Content-Type",
            ));
        }
        let has_body = head.announces_body();
        match &self.mode {
            Mode::Body { content_types, .. } => {
                if has_body
                    && !content_types
                        .iter()
                        .any(|range| range.matches(head.content_type()))
                {
                    return Err(unsupported_media_type());
                }
                Ok(())
            }
            Mode::Api { api, unknown } => {
                let (operation, path_values) = match api.find(head.method, head.path) {
                    Ok(found) => found,
                    Err(_) if *unknown == Unknown::Allow => return Ok(()),
                    Err(violation) => return Err(violation),
                };
                operation.check_parameters(&path_values, head.query, head.headers)?;
                if has_body && operation.takes_body() && !operation.accepts(head.content_type()) {
                    return Err(unsupported_media_type());
                }
                Ok(())
            }
        }
    }

    /// Checks on the buffered body.
    pub fn check_body(&self, head: &Head<'_>, body: &[u8]) -> Result<(), Violation> {
        self.check_size(body.len() as u64)?;
        let content_type = head.content_type();
        let (schema, required, accepted) = match &self.mode {
            Mode::Body {
                schema,
                require_body,
                content_types,
            } => {
                let json = MediaRange::parse(content_type).is_ok_and(|range| range.is_json());
                (
                    json.then_some(schema),
                    *require_body && matches!(head.method, "POST" | "PUT" | "PATCH"),
                    content_types
                        .iter()
                        .any(|range| range.matches(content_type)),
                )
            }
            Mode::Api { api, .. } => match api.find(head.method, head.path) {
                Ok((operation, _)) => (
                    operation.body_schema(content_type),
                    operation.body_required(),
                    !operation.takes_body() || operation.accepts(content_type),
                ),
                // Unknown operations were refused or let through at the head.
                Err(_) => return Ok(()),
            },
        };
        if body.is_empty() {
            if required {
                return Err(Violation::invalid(
                    "body",
                    "",
                    "required",
                    "a request body is required",
                ));
            }
            return Ok(());
        }
        // Checked again on the body itself: a body can arrive without
        // announcing itself (HTTP/2 with no Content-Length).
        if !accepted {
            return Err(unsupported_media_type());
        }
        let Some(schema) = schema else { return Ok(()) };
        self.limits.check(body)?;
        let value = strict_json::parse(body)?;
        schema.check(&value, "body", "")
    }

    fn check_size(&self, size: u64) -> Result<(), Violation> {
        match self.max_body {
            Some(max) if size > max => Err(Violation::invalid(
                "body",
                "",
                "max-size",
                format!("the request body is larger than {max} bytes"),
            )
            .with_status(413, "body-too-large")),
            _ => Ok(()),
        }
    }
}

fn body_mode(
    settings: &Settings,
    schema: &Value,
    options: &CompileOptions,
) -> Result<Mode, String> {
    let schema = Schema::compile(schema, options).map_err(|e| format!("schema: {e}"))?;
    let content_types = settings
        .content_types
        .as_deref()
        .unwrap_or(&["application/json".to_string()])
        .iter()
        .map(|t| MediaRange::parse(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("content_types: {e}"))?;
    Ok(Mode::Body {
        schema,
        content_types,
        require_body: settings.require_body,
    })
}

fn api_mode(
    settings: &Settings,
    document: &Value,
    options: &CompileOptions,
) -> Result<Mode, String> {
    let api = Api::compile(document, settings.base_path.as_deref(), options)
        .map_err(|e| format!("openapi: {e}"))?;
    Ok(Mode::Api {
        api,
        unknown: settings.unknown_operations,
    })
}

fn read_json(path: &str, key: &str) -> Result<Value, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{key}: cannot read `{path}`: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{key}: `{path}` is not JSON: {e}"))
}

/// `$ref`s from a schema file resolve among its siblings.
fn directory_of(file: &str) -> DirectoryRetriever {
    let dir = file.rsplit_once('/').map_or("", |(dir, _)| dir);
    DirectoryRetriever::default().with_root(format!("file://{dir}/"), format!("{dir}/"))
}

fn unsupported_media_type() -> Violation {
    Violation::invalid(
        "header",
        "content-type",
        "content-type",
        "the request body's Content-Type is not accepted here",
    )
    .with_status(415, "unsupported-media-type")
}

fn deny(violation: Violation) -> Decision {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    headers.extend(violation.headers.iter().cloned());
    Decision::Deny(Denial {
        status: violation.status,
        headers,
        body: violation.body(),
        reason: violation.reason.into(),
    })
}

impl Policy for RequestValidator {
    const PHASES: &'static [Phase] = &[Phase::RequestHeaders, Phase::RequestBody];

    fn phases(&self) -> Vec<Phase> {
        if self.needs_body() {
            Self::PHASES.to_vec()
        } else {
            vec![Phase::RequestHeaders]
        }
    }

    fn configure(config: &str) -> Result<Self, String> {
        RequestValidator::from_json(config)
    }

    fn on_request(&self, phase: Phase, request: &Request, _context: &Context) -> Decision {
        let (method, path, query, headers) = (
            request.method(),
            request.path(),
            request.query(),
            request.headers(),
        );
        let head = Head {
            method: &method,
            path: &path,
            query: query.as_deref(),
            headers: &headers,
        };
        let outcome = match phase {
            Phase::RequestBody => match request.body() {
                Some(body) => self.check_body(&head, &body.bytes()),
                // No body lent: too large for the plugin's budget. A body
                // that was not checked does not pass.
                None => Err(Violation::invalid(
                    "body",
                    "",
                    "max-size",
                    "the request body is too large to validate",
                )
                .with_status(413, "body-too-large")),
            },
            _ => self.check_head(&head),
        };
        match outcome {
            Ok(()) => Decision::allow(),
            Err(violation) => deny(violation),
        }
    }
}

export_policy!(RequestValidator);
