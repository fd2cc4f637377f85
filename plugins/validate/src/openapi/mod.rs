//! Validation against an OpenAPI 3.x document: the operation is found by
//! path and method, then its path, query and header parameters and its
//! request body are checked against their schemas, compiled once per
//! instance.

mod document;
mod params;
mod template;

use serde_json::Value;

use crate::media::MediaRange;
use crate::schema::{CompileOptions, Schema};
use crate::violation::Violation;
pub use document::Version;
use params::{Shape, percent_decode, query_pairs};
use template::PathTemplate;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Where a parameter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum In {
    Path,
    Query,
    Header,
}

impl In {
    fn name(self) -> &'static str {
        match self {
            In::Path => "path",
            In::Query => "query",
            In::Header => "header",
        }
    }
}

#[derive(Debug)]
struct Parameter {
    name: String,
    location: In,
    required: bool,
    shape: Shape,
    /// `,` for styles that put an array in one value.
    split_on: Option<char>,
    schema: Option<Schema>,
}

/// One media type a request body may have, and its schema.
#[derive(Debug)]
struct BodyMedia {
    range: MediaRange,
    schema: Option<Schema>,
}

#[derive(Debug)]
struct Operation {
    method: String,
    parameters: Vec<Parameter>,
    body_required: bool,
    body: Vec<BodyMedia>,
}

#[derive(Debug)]
struct PathItem {
    template: PathTemplate,
    operations: Vec<Operation>,
}

/// A compiled OpenAPI document.
#[derive(Debug)]
pub struct Api {
    base_path: String,
    paths: Vec<PathItem>,
}

/// The operation a request matched, and its path parameters' raw values.
pub type Found<'s> = (Matched<'s>, Vec<(&'s str, String)>);

/// What a request needs checked next, once its operation is known.
#[derive(Debug)]
pub struct Matched<'a> {
    operation: &'a Operation,
}

impl Api {
    /// Compile `document`. `base_path` overrides the path of the first
    /// `servers` URL as the prefix the document's paths sit under.
    pub fn compile(
        document: &Value,
        base_path: Option<&str>,
        options: &CompileOptions,
    ) -> Result<Self, String> {
        let version = Version::of(document)?;
        let mut options = options.clone();
        options.draft = Some(version.draft());
        let base_path = match base_path {
            Some(base) => base.trim_end_matches('/').to_string(),
            None => server_path(document),
        };
        let paths = document
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("the document has no `paths` object")?;
        let mut items = Vec::new();
        for (text, item) in paths {
            let template = PathTemplate::parse(text)?;
            let item = document::resolve(document, item)?;
            let shared = item.get("parameters");
            let mut operations = Vec::new();
            for method in METHODS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let operation =
                    compile_operation(document, version, method, shared, operation, &options)
                        .map_err(|e| format!("paths.{text}.{method}: {e}"))?;
                operations.push(operation);
            }
            items.push(PathItem {
                template,
                operations,
            });
        }
        // Concrete paths are matched before templated ones.
        items.sort_by_key(|item| std::cmp::Reverse(item.template.literal_count()));
        Ok(Self {
            base_path,
            paths: items,
        })
    }

    /// Whether any operation takes a request body.
    pub fn has_bodies(&self) -> bool {
        self.paths
            .iter()
            .flat_map(|p| &p.operations)
            .any(|o| !o.body.is_empty())
    }

    /// The operation for `method` on `path`: 404 for a path the document
    /// does not describe, 405 (with `allow`) for a method it does not.
    pub fn find<'s>(&'s self, method: &str, path: &str) -> Result<Found<'s>, Violation> {
        let not_found = || {
            Violation::invalid(
                "path",
                "",
                "operation",
                "no operation in the API description matches this path",
            )
            .with_status(404, "operation-unknown")
        };
        // Matched as the upstream will most likely read it: unreserved
        // characters decoded; encoded slashes and dot segments refused, as
        // they could name an operation other than the one checked.
        let path = normal_form(path).ok_or_else(|| {
            Violation::invalid(
                "path",
                "",
                "normal-form",
                "the path has dot segments, empty segments or encoded slashes",
            )
        })?;
        let relative = path
            .strip_prefix(self.base_path.as_str())
            .ok_or_else(not_found)?;
        let relative = if relative.is_empty() { "/" } else { relative };
        if !self.base_path.is_empty() && !relative.starts_with('/') {
            return Err(not_found());
        }
        let method = method.to_ascii_lowercase();
        let mut allowed = Vec::new();
        for item in &self.paths {
            let Some(parameters) = item.template.matches(relative) else {
                continue;
            };
            if let Some(operation) = item.operations.iter().find(|o| o.method == method) {
                let parameters = parameters
                    .into_iter()
                    .map(|(name, value)| (name, value.to_string()))
                    .collect();
                return Ok((Matched { operation }, parameters));
            }
            allowed.extend(
                item.operations
                    .iter()
                    .map(|o| o.method.to_ascii_uppercase()),
            );
            break;
        }
        if allowed.is_empty() {
            return Err(not_found());
        }
        let mut violation = Violation::invalid(
            "request",
            "",
            "method",
            "the API description has no such method for this path",
        )
        .with_status(405, "method-not-allowed");
        violation.headers.push(("allow".into(), allowed.join(", ")));
        Err(violation)
    }
}

impl<'a> Matched<'a> {
    /// Check the path, query and header parameters.
    pub fn check_parameters(
        &self,
        path_values: &[(&str, String)],
        query: Option<&str>,
        headers: &[(String, String)],
    ) -> Result<(), Violation> {
        let query = query.map(query_pairs).unwrap_or_default();
        for parameter in &self.operation.parameters {
            let values: Vec<String> = match parameter.location {
                In::Path => path_values
                    .iter()
                    .filter(|(name, _)| *name == parameter.name)
                    .map(|(_, value)| percent_decode(value, false))
                    .collect(),
                In::Query => query
                    .iter()
                    .filter(|(name, _)| *name == parameter.name)
                    .map(|(_, v)| v.clone())
                    .collect(),
                In::Header => headers
                    .iter()
                    .filter(|(name, _)| name.eq_ignore_ascii_case(&parameter.name))
                    .map(|(_, v)| v.clone())
                    .collect(),
            };
            let location = parameter.location.name();
            if values.is_empty() {
                if parameter.required {
                    return Err(Violation::invalid(
                        location,
                        parameter.name.clone(),
                        "required",
                        format!("the {location} parameter is required"),
                    ));
                }
                continue;
            }
            if !parameter.shape.is_array() && values.len() > 1 {
                return Err(Violation::invalid(
                    location,
                    parameter.name.clone(),
                    "repeated",
                    format!("the {location} parameter is given more than once"),
                ));
            }
            if let Some(schema) = &parameter.schema {
                let value = parameter.shape.coerce(&values, parameter.split_on);
                schema.check(&value, location, &parameter.name)?;
            }
        }
        Ok(())
    }

    /// Whether the operation describes a request body.
    pub fn takes_body(&self) -> bool {
        !self.operation.body.is_empty()
    }

    /// Whether a body must be present.
    pub fn body_required(&self) -> bool {
        self.operation.body_required
    }

    /// The media types the body may have.
    pub fn accepts(&self, content_type: &str) -> bool {
        self.operation
            .body
            .iter()
            .any(|media| media.range.matches(content_type))
    }

    /// The schema for a body of `content_type`, if it is JSON with one.
    pub fn body_schema(&self, content_type: &str) -> Option<&'a Schema> {
        // The most specific media range that matches wins.
        self.operation
            .body
            .iter()
            .filter(|media| media.range.matches(content_type))
            .max_by_key(|media| media.range.specificity())
            .and_then(|media| media.schema.as_ref())
    }
}

/// `path` with percent-encoded unreserved characters decoded, or `None`
/// if it holds `.`/`..` or empty segments, or an encoded `/` or `\`.
fn normal_form(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'%' {
            let decoded = path
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())?;
            if decoded.is_ascii_alphanumeric() || b"-._~".contains(&decoded) {
                out.push(decoded as char);
            } else if decoded == b'/' || decoded == b'\\' {
                return None;
            } else {
                out.push_str(&path[i..i + 3]);
            }
            i += 3;
            continue;
        }
        if byte == b'\\' {
            return None;
        }
        out.push(byte as char);
        i += 1;
    }
    let segments: Vec<&str> = out.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    // A trailing slash is the one empty segment allowed.
    let clean = segments
        .iter()
        .enumerate()
        .all(|(at, s)| *s != "." && *s != ".." && (!s.is_empty() || at == last));
    (out.starts_with('/') && clean).then_some(out)
}

/// The path of the first `servers` URL (`https://h/v1` or `/v1` → `/v1`).
fn server_path(document: &Value) -> String {
    let url = document
        .pointer("/servers/0/url")
        .and_then(Value::as_str)
        .unwrap_or("");
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |at| &rest[at..]),
        None => url,
    };
    // Server variables (`{version}`) cannot be known here: no base path.
    if path.contains('{') {
        return String::new();
    }
    path.trim_end_matches('/').to_string()
}

fn compile_operation(
    document: &Value,
    version: Version,
    method: &str,
    shared: Option<&Value>,
    operation: &Value,
    options: &CompileOptions,
) -> Result<Operation, String> {
    let mut parameters: Vec<Parameter> = Vec::new();
    // Operation-level parameters override path-level ones of the same name
    // and location, so they are read first.
    let own = operation
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let inherited = shared.and_then(Value::as_array).into_iter().flatten();
    for parameter in own.chain(inherited) {
        let parameter = document::resolve(document, parameter)?;
        let Some(compiled) = compile_parameter(document, version, parameter, options)? else {
            continue;
        };
        if !parameters
            .iter()
            .any(|p| p.name == compiled.name && p.location == compiled.location)
        {
            parameters.push(compiled);
        }
    }
    let (body_required, body) = match operation.get("requestBody") {
        Some(body) => {
            let body = document::resolve(document, body)?;
            let required = body
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let mut media = Vec::new();
            for (range, content) in body
                .get("content")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let range = MediaRange::parse(range)?;
                let schema = match content.get("schema") {
                    Some(schema) if range.is_json() => Some(
                        Schema::compile(
                            &document::standalone_schema(document, schema, version),
                            options,
                        )
                        .map_err(|e| format!("requestBody schema: {e}"))?,
                    ),
                    _ => None,
                };
                media.push(BodyMedia { range, schema });
            }
            (required, media)
        }
        None => (false, Vec::new()),
    };
    Ok(Operation {
        method: method.to_string(),
        parameters,
        body_required,
        body,
    })
}

/// A parameter, or `None` for kinds not validated (cookies, and the
/// headers OpenAPI says to ignore).
fn compile_parameter(
    document: &Value,
    version: Version,
    parameter: &Value,
    options: &CompileOptions,
) -> Result<Option<Parameter>, String> {
    let name = parameter
        .get("name")
        .and_then(Value::as_str)
        .ok_or("a parameter has no `name`")?;
    let location = match parameter.get("in").and_then(Value::as_str) {
        Some("path") => In::Path,
        Some("query") => In::Query,
        Some("header")
            if ["accept", "content-type", "authorization"]
                .contains(&name.to_ascii_lowercase().as_str()) =>
        {
            return Ok(None);
        }
        Some("header") => In::Header,
        Some("cookie") => return Ok(None),
        other => return Err(format!("parameter `{name}`: unknown location {other:?}")),
    };
    let required = location == In::Path
        || parameter
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let schema_value = parameter.get("schema");
    let shape = match schema_value {
        Some(schema) => {
            let resolved = document::resolve(document, schema)?;
            Shape {
                types: document::types_of(document, resolved),
                item_types: resolved
                    .get("items")
                    .map(|items| document::types_of(document, items))
                    .unwrap_or_default(),
            }
        }
        None => Shape::default(),
    };
    let style = parameter.get("style").and_then(Value::as_str);
    let explode = parameter
        .get("explode")
        .and_then(Value::as_bool)
        .unwrap_or(location == In::Query && style.is_none_or(|s| s == "form"));
    let split_on = match (location, style, explode) {
        (_, Some("spaceDelimited"), _) => Some(' '),
        (_, Some("pipeDelimited"), _) => Some('|'),
        (In::Query, _, true) => None,
        _ => Some(','),
    };
    let schema = schema_value
        .map(|schema| {
            Schema::compile(
                &document::standalone_schema(document, schema, version),
                options,
            )
        })
        .transpose()
        .map_err(|e| format!("parameter `{name}` schema: {e}"))?;
    Ok(Some(Parameter {
        name: name.to_string(),
        location,
        required,
        shape,
        split_on,
        schema,
    }))
}
