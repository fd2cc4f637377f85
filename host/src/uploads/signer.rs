//! The built-in `upload-signer` upstream: an authenticated caller POSTs
//! what it wants to upload and gets a signed URL back. The route's plugin
//! chain authenticates the caller (the signer refuses a request no plugin
//! set a principal for); the signer's own settings bound what it signs.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::signature::UploadKey;
use crate::body::{BoxBody, full};
use crate::config::model::UploadSignerConfig;
use crate::context::RequestContext;
use crate::error::json_error;
use crate::plugin::view::RequestView;

/// The largest signing request read, in bytes.
pub const MAX_REQUEST_BYTES: u64 = 16 * 1024;

/// A configured signer.
#[derive(Debug)]
pub struct UploadSigner {
    key: UploadKey,
    path_prefix: String,
    max_bytes: u64,
    default_expires_secs: u64,
    max_expires_secs: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignRequest {
    path: String,
    #[serde(default = "default_method")]
    method: String,
    max_bytes: u64,
    content_type: Option<String>,
    expires_in: Option<u64>,
}

fn default_method() -> String {
    "PUT".into()
}

impl UploadSigner {
    /// A signer with `key` and the route's settings.
    pub fn new(key: UploadKey, config: &UploadSignerConfig) -> Self {
        Self {
            key,
            path_prefix: config.path_prefix.clone(),
            max_bytes: config.max_bytes,
            default_expires_secs: config.default_expires_secs,
            max_expires_secs: config.max_expires_secs,
        }
    }

    /// Answer a signing request whose body is `body`, at `now`.
    pub fn answer(
        &self,
        view: &RequestView,
        context: &RequestContext,
        body: &Bytes,
        now: u64,
    ) -> Response<BoxBody> {
        let id = &*view.request_id;
        if view.method != http::Method::POST {
            let mut response =
                json_error(StatusCode::METHOD_NOT_ALLOWED, "POST a signing request", id);
            response
                .headers_mut()
                .insert(http::header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        let Some(principal) = &context.principal else {
            return json_error(StatusCode::UNAUTHORIZED, "authentication required", id);
        };
        let request: SignRequest = match serde_json::from_slice(body) {
            Ok(request) => request,
            Err(_) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "expected {\"path\", \"max_bytes\", optional \"method\", \"content_type\", \"expires_in\"}",
                    id,
                );
            }
        };
        if let Err(message) = self.check(&request) {
            return json_error(StatusCode::BAD_REQUEST, message, id);
        }
        let expires_in = request.expires_in.unwrap_or(self.default_expires_secs);
        let expires_at = now + expires_in;
        let method = request.method.to_ascii_uppercase();
        let query = self.key.sign(
            &method,
            &view.authority,
            &request.path,
            expires_at,
            request.max_bytes,
            request.content_type.as_deref(),
        );
        let url = format!(
            "{}://{}{}?{query}",
            view.scheme, view.authority, request.path
        );
        tracing::info!(target: "audit", principal, path = request.path, max_bytes = request.max_bytes, expires_at, "upload URL signed");
        let answer = json!({
            "url": url,
            "method": method,
            "path": request.path,
            "max_bytes": request.max_bytes,
            "content_type": request.content_type,
            "expires_at": expires_at,
        });
        let mut response = Response::new(full(answer.to_string()));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response.headers_mut().insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        response
    }

    fn check(&self, request: &SignRequest) -> Result<(), &'static str> {
        let path = &request.path;
        // Under the prefix at a segment boundary: `/uploads` does not sign
        // `/uploads-private/x`.
        let under_prefix = path.strip_prefix(&self.path_prefix).is_some_and(|rest| {
            self.path_prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/')
        });
        if !under_prefix {
            return Err("the path is outside what this endpoint signs");
        }
        // Only characters no upstream decodes into something else: no
        // percent-encoding, `;`, `\`, dot or empty segments.
        let clean = path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b))
            && !path
                .split('/')
                .skip(1)
                .any(|segment| segment.is_empty() || segment == "." || segment == "..");
        if !clean {
            return Err(
                "the path must be plain: letters, digits, - . _ ~ and / between non-empty segments",
            );
        }
        if !matches!(request.method.to_ascii_uppercase().as_str(), "PUT" | "POST") {
            return Err("method must be PUT or POST");
        }
        if request.max_bytes == 0 || request.max_bytes > self.max_bytes {
            return Err("max_bytes is zero or over this endpoint's limit");
        }
        if request
            .expires_in
            .is_some_and(|secs| secs == 0 || secs > self.max_expires_secs)
        {
            return Err("expires_in is zero or over this endpoint's limit");
        }
        if request
            .content_type
            .as_deref()
            .is_some_and(|t| t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
        {
            return Err("content_type is not a media type");
        }
        Ok(())
    }
}
