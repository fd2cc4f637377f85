//! Sending a request upstream: target choice, keep-alive connections,
//! timeouts, and retries of idempotent requests whose connection failed.

mod balancer;
mod connections;
pub mod echo;
mod inline;
mod regions;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request};
use http_body_util::BodyExt;

pub use balancer::Balancer;
use connections::{Connections, Connector, SendError, TlsConnector};
pub use inline::PassedFields;
pub use regions::Regions;

use crate::body::BoxBody;
use crate::config::UpstreamConfig;
use crate::error::GatewayError;
use crate::reply::Reply;

/// Where a route's requests go.
pub enum Upstream {
    /// The built-in echo server.
    Echo,
    /// The built-in signing endpoint for upload URLs.
    UploadSigner(Box<crate::uploads::UploadSigner>),
    /// Real servers.
    Targets(Box<TargetPool>),
}

/// Real upstream servers and the connections to them.
pub struct TargetPool {
    balancer: Balancer,
    connector: Connector,
    /// The idle connections of each target, by the balancer's index.
    connections: Vec<Arc<Connections>>,
    timeout: Duration,
    retries: u32,
}

impl Upstream {
    /// Build from a validated config; TLS files are read relative to `dir`.
    pub fn new(config: &UpstreamConfig, dir: &std::path::Path) -> Result<Self, String> {
        // `upload-signer` is built by the gateway, which holds its key.
        if config.builtin.is_some() {
            return Ok(Upstream::Echo);
        }
        let tls = match &config.tls {
            None => None,
            Some(tls) => {
                let mut client_config = tls::client_config(tls, dir)?;
                client_config.alpn_protocols = vec![b"http/1.1".to_vec()];
                let server_name = tls
                    .server_name
                    .as_ref()
                    .map(|name| {
                        rustls_pki_types::ServerName::try_from(name.clone()).map_err(|_| {
                            format!("tls.server_name: {name:?} is not a DNS name or IP address")
                        })
                    })
                    .transpose()?;
                Some(TlsConnector {
                    config: tokio_rustls::TlsConnector::from(Arc::new(client_config)),
                    server_name,
                })
            }
        };
        let connector = Connector {
            connect_timeout: Duration::from_millis(config.connect_timeout_ms),
            tls,
        };
        Ok(Upstream::Targets(Box::new(TargetPool {
            balancer: Balancer::new(
                &config.targets,
                config.eject_after_failures,
                Duration::from_millis(config.eject_ms),
            ),
            connector,
            connections: config
                .targets
                .iter()
                .map(|_| Connections::new(config.max_idle_connections))
                .collect(),
            timeout: Duration::from_millis(config.timeout_ms),
            retries: config.retries,
        })))
    }
}

impl Upstream {
    /// Send `request` (its URI holds only path and query) and return the
    /// response.
    pub async fn send(&self, request: Request<BoxBody>) -> Result<Reply, GatewayError> {
        match self {
            Upstream::Echo => {
                let (head, body) = request.into_parts();
                let bytes = read_body(body).await?;
                Ok(echo::respond(&Request::from_parts(head, ()), &bytes).into())
            }
            Upstream::Targets(targets) => targets.send(request).await,
            // The pipeline answers for the signer before the upstream step.
            Upstream::UploadSigner(_) => Err(GatewayError::UpstreamUnavailable(
                "upload signer reached the upstream step".into(),
            )),
        }
    }

    /// Whether every target is ejected by the passive health checks.
    pub fn is_down(&self) -> bool {
        match self {
            Upstream::Targets(targets) => targets.balancer.all_ejected(),
            Upstream::Echo | Upstream::UploadSigner(_) => false,
        }
    }
}

impl TargetPool {
    /// Send `request` (its URI holds only path and query) to a target.
    pub async fn send(&self, request: Request<BoxBody>) -> Result<Reply, GatewayError> {
        let has_body = !http_body::Body::is_end_stream(request.body());
        let retryable = is_resendable(&request);
        let (mut parts, mut body) = request.into_parts();
        let mut avoid = None;
        let mut attempt = 0;
        loop {
            let index = self.balancer.pick(avoid);
            let target = self.balancer.target(index);
            // A retry goes to another target and needs the head again: a
            // copy is kept only when one may follow.
            let may_retry = retryable && attempt < self.retries && self.balancer.target_count() > 1;
            let spare = may_retry.then(|| parts.clone());
            let outcome = tokio::time::timeout(
                self.timeout,
                self.connections[index].send(
                    &self.connector,
                    &target.authority,
                    Request::from_parts(parts, body),
                ),
            )
            .await;
            match outcome {
                Ok(Ok(reply)) => {
                    if matches!(reply.response.status().as_u16(), 502..=504) {
                        self.balancer.record_failure(index);
                    } else {
                        self.balancer.record_success(index);
                    }
                    return Ok(reply);
                }
                Ok(Err(SendError::Connect(e))) => {
                    self.balancer.record_failure(index);
                    tracing::warn!(target = %target.authority, "upstream connect failed: {e}");
                    if let Some(spare) = spare {
                        attempt += 1;
                        avoid = Some(index);
                        // Only a request without a body is retried.
                        (parts, body) = (spare, crate::body::empty());
                        continue;
                    }
                    return Err(GatewayError::UpstreamUnreachable(format!(
                        "{}: {e}",
                        target.authority
                    )));
                }
                Ok(Err(SendError::Exchange(e))) => {
                    let detail = std::error::Error::source(&e)
                        .map_or_else(|| e.to_string(), |s| s.to_string());
                    if is_body_limit(&e) {
                        return Err(GatewayError::PayloadTooLarge);
                    }
                    return Err(GatewayError::UpstreamUnavailable(format!(
                        "{}: {detail}",
                        target.authority
                    )));
                }
                Ok(Err(SendError::Inline(e))) => {
                    return Err(GatewayError::UpstreamUnavailable(format!(
                        "{}: {e}",
                        target.authority
                    )));
                }
                Err(_) => {
                    // With a body, the wait may be the client's slow upload:
                    // only a bodiless request's timeout blames the target.
                    if !has_body {
                        self.balancer.record_failure(index);
                    }
                    return Err(GatewayError::UpstreamTimeout);
                }
            }
        }
    }
}

/// Whether `request` can be sent again unchanged after a failed attempt:
/// an idempotent method and no body (a streamed body is consumed by the
/// first attempt).
pub fn is_resendable(request: &Request<BoxBody>) -> bool {
    is_idempotent(request.method()) && http_body::Body::is_end_stream(request.body())
}

pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// Whether the upstream exchange failed because the client's body passed
/// the gateway's size limit.
fn is_body_limit(error: &hyper::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Read a whole body (for the echo upstream). The pipeline has already
/// capped it at `server.max_request_body_bytes`.
pub async fn read_body(body: BoxBody) -> Result<bytes::Bytes, GatewayError> {
    match body.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(GatewayError::PayloadTooLarge),
        Err(_) => Err(GatewayError::BadRequest(
            "the request body could not be read",
        )),
    }
}
