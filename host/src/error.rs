//! The one place where every failure becomes a response: a status and a
//! small JSON body carrying the request id. Internal error text goes to the
//! log, never to the client.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use http::{Response, StatusCode};

use crate::body::{BoxBody, full};

/// The IETF httpapi draft's rate-limit fields.
pub static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// The IETF httpapi draft's rate-limit fields.
pub static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Why the gateway answered instead of the upstream.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No route matches the request.
    #[error("no route matches")]
    NoRoute,
    /// The request is malformed.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The request body is larger than allowed.
    #[error("request body too large")]
    PayloadTooLarge,
    /// A plugin failed (trap, timeout, bad edit, no instance) and fails closed.
    #[error("plugin {plugin} failed: {reason}")]
    PluginFailed {
        /// The plugin.
        plugin: String,
        /// What went wrong (logged only).
        reason: String,
    },
    /// The upstream could not be reached or broke the exchange.
    #[error("upstream unavailable: {0}")]
    UpstreamUnavailable(String),
    /// No target of the pool accepted a connection: nothing was sent.
    #[error("upstream unreachable: {0}")]
    UpstreamUnreachable(String),
    /// The client's home region has no working pool, and the route does
    /// not send requests across borders.
    #[error("region {0} unavailable")]
    RegionUnavailable(std::sync::Arc<str>),
    /// The upstream did not answer in time.
    #[error("upstream timed out")]
    UpstreamTimeout,
    /// The whole request took longer than `server.request_timeout_ms`.
    #[error("request timed out")]
    RequestTimeout,
    /// The upstream response was unusable (e.g. too large for a body plugin).
    #[error("bad upstream response: {0}")]
    BadUpstreamResponse(String),
    /// The gateway is shutting down.
    #[error("shutting down")]
    ShuttingDown,
    /// The client asked for an expectation other than `100-continue`.
    #[error("unsupported expectation")]
    ExpectationFailed,
    /// The route requires a verified client certificate and there is none.
    #[error("no verified client certificate")]
    ClientCertificateRequired,
    /// A rate-limit policy refused the request.
    #[error("rate limited by policy {}", .0.name)]
    RateLimited(crate::ratelimit::Rejection),
    /// A signed upload URL is missing, invalid, expired or for another
    /// request (the reason is logged where it is found).
    #[error("signed upload refused")]
    UploadRefused,
    /// A signed upload without a Content-Length.
    #[error("length required")]
    LengthRequired,
    /// The client, account or consumer is on the threat block list.
    #[error("blocked")]
    Blocked(crate::threats::Refusal),
    /// A shared rate limit could not be counted and the config says to
    /// refuse meanwhile (`[state] rate_limits_on_error = "deny"`).
    #[error("shared state unavailable")]
    StateUnavailable,
}

impl GatewayError {
    /// The status the client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::NoRoute => StatusCode::NOT_FOUND,
            GatewayError::BadRequest(_) => StatusCode::BAD_REQUEST,
            GatewayError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::PluginFailed { .. }
            | GatewayError::ShuttingDown
            | GatewayError::StateUnavailable
            | GatewayError::RegionUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::UpstreamUnavailable(_)
            | GatewayError::UpstreamUnreachable(_)
            | GatewayError::BadUpstreamResponse(_) => StatusCode::BAD_GATEWAY,
            GatewayError::UpstreamTimeout | GatewayError::RequestTimeout => {
                StatusCode::GATEWAY_TIMEOUT
            }
            GatewayError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            GatewayError::ClientCertificateRequired => StatusCode::FORBIDDEN,
            GatewayError::ExpectationFailed => StatusCode::EXPECTATION_FAILED,
            GatewayError::UploadRefused => StatusCode::FORBIDDEN,
            GatewayError::LengthRequired => StatusCode::LENGTH_REQUIRED,
            GatewayError::Blocked(refusal) => {
                StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::TOO_MANY_REQUESTS)
            }
        }
    }

    /// The fixed, client-safe message for this error.
    fn public_message(&self) -> &'static str {
        match self {
            GatewayError::NoRoute => "no route matches this request",
            GatewayError::BadRequest(what) => what,
            GatewayError::PayloadTooLarge => "request body too large",
            GatewayError::PluginFailed { .. } => "a policy could not be evaluated",
            GatewayError::UpstreamUnavailable(_)
            | GatewayError::UpstreamUnreachable(_)
            | GatewayError::BadUpstreamResponse(_) => "upstream unavailable",
            GatewayError::RegionUnavailable(_) => "the service is unavailable in your region",
            GatewayError::UpstreamTimeout => "upstream timed out",
            GatewayError::RequestTimeout => "request timed out",
            GatewayError::ShuttingDown => "the gateway is shutting down",
            GatewayError::RateLimited(_) => "rate limit exceeded",
            GatewayError::ClientCertificateRequired => "a verified client certificate is required",
            GatewayError::ExpectationFailed => "only the 100-continue expectation is supported",
            GatewayError::UploadRefused => "the signed upload URL is not valid for this request",
            GatewayError::LengthRequired => "a signed upload needs a Content-Length",
            GatewayError::Blocked(_) => "too many suspicious requests; try again later",
            GatewayError::StateUnavailable => "the service is temporarily unavailable",
        }
    }

    /// A short machine-readable code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::NoRoute => "no_route",
            GatewayError::BadRequest(_) => "bad_request",
            GatewayError::PayloadTooLarge => "payload_too_large",
            GatewayError::PluginFailed { .. } => "plugin_failed",
            GatewayError::UpstreamUnavailable(_) => "upstream_unavailable",
            GatewayError::UpstreamUnreachable(_) => "upstream_unreachable",
            GatewayError::RegionUnavailable(_) => "region_unavailable",
            GatewayError::UpstreamTimeout => "upstream_timeout",
            GatewayError::RequestTimeout => "request_timeout",
            GatewayError::BadUpstreamResponse(_) => "bad_upstream_response",
            GatewayError::ShuttingDown => "shutting_down",
            GatewayError::RateLimited(_) => "rate_limited",
            GatewayError::ClientCertificateRequired => "client_certificate_required",
            GatewayError::ExpectationFailed => "expectation_failed",
            GatewayError::UploadRefused => "upload_refused",
            GatewayError::LengthRequired => "length_required",
            GatewayError::Blocked(_) => "blocked",
            GatewayError::StateUnavailable => "state_unavailable",
        }
    }

    /// The response for this error.
    pub fn into_response(self, request_id: &str) -> Response<BoxBody> {
        let mut response = json_error(self.status(), self.public_message(), request_id);
        if let GatewayError::RateLimited(rejection) = &self {
            // Whole seconds, rounded up: a client that waits this long succeeds.
            let wait = rejection.retry_after.as_secs()
                + u64::from(rejection.retry_after.subsec_nanos() > 0);
            let wait = wait.max(1);
            let headers = response.headers_mut();
            headers.insert(RETRY_AFTER, HeaderValue::from(wait));
            if let Ok(value) = HeaderValue::from_str(&rejection.policy_field) {
                headers.insert(RATELIMIT_POLICY.clone(), value);
            }
            if let Ok(value) =
                HeaderValue::from_str(&format!("\"{}\";r=0;t={wait}", rejection.name))
            {
                headers.insert(RATELIMIT.clone(), value);
            }
        }
        if let GatewayError::Blocked(refusal) = &self {
            let wait = refusal.retry_after.as_secs().max(1);
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(wait));
        }
        response
    }
}

/// `{"error": message, "request_id": id}` with `status`.
pub fn json_error(status: StatusCode, message: &str, request_id: &str) -> Response<BoxBody> {
    let body = serde_json::json!({ "error": message, "request_id": request_id }).to_string();
    let mut response = Response::new(full(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
