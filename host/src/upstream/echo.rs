//! The built-in `echo` upstream: answers with a JSON description of the
//! request it received, so the quickstart needs no other server and a user
//! can see exactly what the gateway forwards.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Request, Response};
use serde_json::json;

use crate::body::{BoxBody, full};

/// How much of the body is echoed back as text.
const ECHOED_BODY_LIMIT: usize = 64 * 1024;

/// Answer `request` (whose body has been read into `body`).
pub fn respond(request: &Request<()>, body: &Bytes) -> Response<BoxBody> {
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                json!(String::from_utf8_lossy(value.as_bytes())),
            )
        })
        .collect();
    let shown = &body[..body.len().min(ECHOED_BODY_LIMIT)];
    let description = json!({
        "echo": true,
        "method": request.method().as_str(),
        "path": request.uri().path(),
        "query": request.uri().query(),
        "headers": headers,
        "body_bytes": body.len(),
        "body": String::from_utf8_lossy(shown),
    });
    let mut response = Response::new(full(description.to_string()));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
