//! The admin listener: HTTP/1.1, every request authenticated before it is
//! routed, small JSON bodies both ways.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;

use super::keys;
use crate::apikeys::{KeyStore, Plans};
use crate::live::Live;

/// How long the admin API waits for a request head.
const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Longest an admin connection lives: calls are small and few.
const CONNECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Largest request body the admin API reads.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest component upload: language runtimes (JS, Python) are tens of MiB.
const MAX_COMPONENT_BYTES: usize = 64 * 1024 * 1024;

/// The admin API's OpenAPI document, served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// What the admin API serves.
pub struct Admin {
    /// SHA-256 of the bearer token.
    token_sha256: [u8; 32],
    /// The key store, when `[api_keys]` is configured.
    pub keys: Option<Arc<KeyStore>>,
    /// The gateway in service.
    pub live: Arc<Live>,
}

impl Admin {
    /// An admin API accepting the token whose SHA-256 is `token_sha256`
    /// (see [`super::parse_token_sha256`]).
    pub fn new(token_sha256: [u8; 32], keys: Option<Arc<KeyStore>>, live: Arc<Live>) -> Self {
        Self {
            token_sha256,
            keys,
            live,
        }
    }

    /// The usage plans of the configuration in service.
    pub fn plans(&self) -> Arc<Plans> {
        self.live.current().plans.clone()
    }

    fn authorized(&self, request: &Request<Incoming>) -> bool {
        let Some(token) = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let presented: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        presented.ct_eq(&self.token_sha256).into()
    }
}

/// Serve the admin API on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, admin: Arc<Admin>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("admin listener: {e}");
                continue;
            }
        };
        let admin = admin.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let admin = admin.clone();
                async move { Ok::<_, Infallible>(handle(&admin, request, peer).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            // A connection that stalls mid-request is dropped, not held.
            match tokio::time::timeout(CONNECTION_TIMEOUT, connection).await {
                Ok(Err(e)) => tracing::debug!("admin connection: {e}"),
                Err(_) => tracing::debug!(%peer, "admin connection timed out"),
                Ok(Ok(())) => {}
            }
        });
    }
}

/// Serve one call and write its audit line: who, what, result.
async fn handle(
    admin: &Admin,
    request: Request<Incoming>,
    peer: std::net::SocketAddr,
) -> Response<Full<Bytes>> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let authorized = admin.authorized(&request);
    let response = if authorized {
        dispatch(admin, request).await
    } else {
        unauthorized()
    };
    tracing::info!(
        target: "audit",
        %peer,
        who = if authorized { "admin-token" } else { "anonymous" },
        method = %method,
        path,
        status = response.status().as_u16(),
        "admin call"
    );
    response
}

fn unauthorized() -> Response<Full<Bytes>> {
    let mut response = json(
        StatusCode::UNAUTHORIZED,
        &serde_json::json!({"error": "unauthorized"}),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Bearer realm=\"portcullis-admin\""),
    );
    response
}

async fn dispatch(admin: &Admin, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let limit = if path.ends_with("/component") {
        MAX_COMPONENT_BYTES
    } else {
        MAX_BODY_BYTES
    };
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
    };
    let (section, rest) = match path.trim_start_matches('/').split_once('/') {
        Some((section, rest)) => (section, rest),
        None => (path.trim_start_matches('/'), ""),
    };
    let method = &parts.method;
    match section {
        "keys" => keys::handle(admin, method, rest, &body).await,
        "routes" => super::routes::handle(admin, method, rest, &body).await,
        "plugins" => super::plugins::handle(admin, method, rest, &parts.headers, &body).await,
        "config" if rest == "reload" && method == http::Method::POST => {
            super::changes::reload(admin).await
        }
        "openapi.json" if rest.is_empty() && method == http::Method::GET => {
            let mut response = Response::new(Full::new(Bytes::from_static(OPENAPI.as_bytes())));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            response
        }
        _ => error(StatusCode::NOT_FOUND, "no such endpoint"),
    }
}

/// A JSON response.
pub(super) fn json(status: StatusCode, value: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// `{"error": message}` with `status`.
pub(super) fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json(status, &serde_json::json!({ "error": message }))
}
