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
use crate::tls::TlsFacts;

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
    /// SHA-256 of the bearer token, if callers may use one.
    token_sha256: Option<[u8; 32]>,
    /// Client certificate subjects that are admins; any verified one when
    /// empty.
    client_subjects: Vec<String>,
    /// The key store, when `[api_keys]` is configured.
    pub keys: Option<Arc<KeyStore>>,
    /// The gateway in service.
    pub live: Arc<Live>,
}

/// Who made a call.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Caller {
    /// The bearer token.
    Token,
    /// A client certificate the admin CA verified: its subject.
    Certificate(String),
}

impl Admin {
    /// An admin API accepting the token whose SHA-256 is `token_sha256`
    /// (see [`super::parse_token_sha256`]), and verified client
    /// certificates where its listener asks for them.
    pub fn new(
        token_sha256: Option<[u8; 32]>,
        client_subjects: Vec<String>,
        keys: Option<Arc<KeyStore>>,
        live: Arc<Live>,
    ) -> Self {
        Self {
            token_sha256,
            client_subjects,
            keys,
            live,
        }
    }

    /// The usage plans of the configuration in service.
    pub fn plans(&self) -> Arc<Plans> {
        self.live.current().plans.clone()
    }

    /// The caller, if the request is authenticated: a verified client
    /// certificate, else the bearer token.
    fn caller(&self, request: &Request<Incoming>, tls: Option<&TlsFacts>) -> Option<Caller> {
        if let Some(client) = tls.and_then(|t| t.client.as_ref())
            && (self.client_subjects.is_empty() || self.client_subjects.contains(&client.subject))
        {
            return Some(Caller::Certificate(client.subject.clone()));
        }
        let expected = self.token_sha256.as_ref()?;
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))?;
        let presented: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        bool::from(presented.ct_eq(expected)).then_some(Caller::Token)
    }
}

/// The admin listener's TLS: the certificates of `[admin.tls]` (paths
/// relative to the config `file`), HTTP/1.1 only.
pub fn tls_acceptor(
    settings: &crate::config::TlsConfig,
    file: &std::path::Path,
) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let dir = file.parent().unwrap_or(std::path::Path::new("."));
    let (config, _store) = crate::tls::server_config(settings, dir)
        .map_err(|e| anyhow::anyhow!("{}: admin.tls: {e}", file.display()))?;
    let mut config = (*config).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serve the admin API on `listener` (over TLS when `tls` is given) until
/// the task is dropped.
pub async fn serve(
    listener: TcpListener,
    admin: Arc<Admin>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("admin listener: {e}");
                continue;
            }
        };
        let admin = admin.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let session = async {
                match tls {
                    None => serve_connection(admin, TokioIo::new(stream), peer, None).await,
                    Some(acceptor) => {
                        let stream = match acceptor.accept(stream).await {
                            Ok(stream) => stream,
                            Err(e) => {
                                tracing::info!(target: "audit", %peer, "admin TLS handshake refused: {e}");
                                return;
                            }
                        };
                        let facts = Arc::new(crate::tls::facts(stream.get_ref().1));
                        serve_connection(admin, TokioIo::new(stream), peer, Some(facts)).await;
                    }
                }
            };
            // A connection that stalls, in its handshake or mid-request, is
            // dropped, not held.
            if tokio::time::timeout(CONNECTION_TIMEOUT, session)
                .await
                .is_err()
            {
                tracing::debug!(%peer, "admin connection timed out");
            }
        });
    }
}

async fn serve_connection<I>(
    admin: Arc<Admin>,
    io: TokioIo<I>,
    peer: std::net::SocketAddr,
    tls: Option<Arc<TlsFacts>>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let admin = admin.clone();
        let tls = tls.clone();
        async move { Ok::<_, Infallible>(handle(&admin, request, peer, tls.as_deref()).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(io, service);
    if let Err(e) = connection.await {
        tracing::debug!("admin connection: {e}");
    }
}

/// Serve one call and write its audit line: who, what, result.
async fn handle(
    admin: &Admin,
    request: Request<Incoming>,
    peer: std::net::SocketAddr,
    tls: Option<&TlsFacts>,
) -> Response<Full<Bytes>> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let caller = admin.caller(&request, tls);
    let response = match &caller {
        Some(_) => dispatch(admin, request).await,
        None => unauthorized(),
    };
    let who = match &caller {
        Some(Caller::Token) => "admin-token".to_string(),
        Some(Caller::Certificate(subject)) => format!("certificate:{subject}"),
        None => "anonymous".to_string(),
    };
    tracing::info!(
        target: "audit",
        %peer,
        who,
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
        "blocks" => super::blocks::handle(admin, method, rest),
        "routes" => super::routes::handle(admin, method, rest, &body).await,
        "plugins" => super::plugins::handle(admin, method, rest, &parts.headers, &body).await,
        "config" if rest == "reload" && method == http::Method::POST => {
            super::changes::reload(admin).await
        }
        "metrics" if rest.is_empty() && method == http::Method::GET => {
            let mut response = Response::new(Full::new(Bytes::from(super::metrics::scrape(admin))));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
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
