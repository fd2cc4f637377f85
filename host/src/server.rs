//! The listener: accepts connections, serves HTTP/1.1 and HTTP/2 (h2c with
//! prior knowledge) on each, closes connections left idle, and on shutdown
//! stops accepting and lets in-flight requests finish within the grace
//! period.
//!
//! A connection starts on the gateway's own HTTP/1.1 server
//! ([`crate::http1`]), which serves bodiless requests; the first request it
//! does not serve, and every HTTP/2 connection, goes to hyper.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use crate::body;
use crate::config::ServerConfig;
use crate::connection_clock::ConnectionClock;
use crate::connections::ConnectionLimits;
use crate::drain::{Drain, DrainWatch};
use crate::gateway::Gateway;
use crate::http1::{self, Ended, Rewind};
use crate::live::Live;
use crate::pipeline;
use crate::serving::Serving;
use crate::tls;

/// Why hyper ended a connection.
type ConnectionError = Box<dyn std::error::Error + Send + Sync>;

/// Serve until `shutdown` resolves, then drain for up to the grace period.
pub async fn serve(
    live: Arc<Live>,
    listener: TcpListener,
    settings: &ServerConfig,
    shutdown: impl Future<Output = ()>,
) {
    let grace = Duration::from_millis(settings.grace_period_ms);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        // The connection's clock enforces the header read timeout: hyper's
        // arms a timer for every request.
        .header_read_timeout(None)
        .max_buf_size(settings.max_header_bytes.max(8192));
    // hyper also bounds reset streams that were never accepted, which is
    // what a rapid-reset flood produces.
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(settings.h2_max_concurrent_streams);
    let limits = ConnectionLimits::new(settings.max_connections, settings.max_connections_per_ip);
    let tls = live
        .current()
        .tls
        .clone()
        .map(tokio_rustls::TlsAcceptor::from);
    let handshake_timeout = Duration::from_millis(
        settings
            .tls
            .as_ref()
            .map_or(10_000, |t| t.handshake_timeout_ms),
    );
    let idle_timeout = Duration::from_millis(settings.idle_timeout_ms);
    let head_timeout = Duration::from_millis(settings.header_read_timeout_ms);
    let max_head = settings.max_header_bytes.max(8192);
    let drain = Drain::new();
    tokio::pin!(shutdown);

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Usually EMFILE: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(permit) = limits.admit(peer.ip()) else {
            tracing::warn!(%peer, "connection refused: connection cap reached");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        // The tick is set by the request timeout current at accept: a
        // later reload that shortens it below four ticks gets a timer per
        // request on the connections already open.
        let clock =
            ConnectionClock::new(idle_timeout, head_timeout, live.current().request_timeout);
        let stream = clock.wrap(stream);
        let connection = Accepted {
            live: live.clone(),
            builder: builder.clone(),
            peer,
            drain: drain.watch(),
            clock,
            max_head,
        };
        // Plain and TLS connections are separate tasks, so a plain one
        // does not carry room for a TLS session and handshake all its life.
        match &tls {
            None => {
                tokio::spawn(connection.serve(stream, None).holding(permit));
            }
            Some(acceptor) => {
                // Boxed, so the task does not keep room for the handshake
                // for the connection's whole life.
                let handshake = Box::pin(acceptor.accept(stream));
                tokio::spawn(async move {
                    // The handshake runs in the connection's task, bounded,
                    // so a slow or silent client holds up only itself.
                    if let Some(stream) = finish_handshake(handshake, handshake_timeout, peer).await
                    {
                        let facts = Some(Arc::new(tls::facts(stream.get_ref().1)));
                        connection.serve(stream, facts).holding(permit).await;
                    }
                });
            }
        }
    }

    drop(listener);
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        "shutting down: draining in-flight requests"
    );
    tokio::select! {
        () = drain.shutdown() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(grace) => tracing::warn!("grace period over; closing the remaining connections"),
    }
}

/// A TLS handshake, bounded by `timeout`: the stream, or `None` (counted).
async fn finish_handshake<I>(
    handshake: Pin<Box<tokio_rustls::Accept<I>>>,
    timeout: Duration,
    peer: SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<I>>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout(timeout, handshake).await {
        Ok(Ok(stream)) => {
            count_handshake("ok");
            Some(stream)
        }
        Ok(Err(e)) => {
            count_handshake("error");
            tracing::debug!(%peer, "TLS handshake failed: {e}");
            None
        }
        Err(_) => {
            count_handshake("timeout");
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}

/// What serving one accepted connection needs.
struct Accepted {
    live: Arc<Live>,
    builder: auto::Builder<TokioExecutor>,
    peer: SocketAddr,
    drain: DrainWatch,
    clock: ConnectionClock,
    /// The largest request head read before hyper is left to refuse it.
    max_head: usize,
}

impl Accepted {
    /// Serve the (for HTTPS, handshaken) connection until the client
    /// closes it, it stays idle past the idle timeout, or the server has
    /// drained.
    fn serve<I>(
        self,
        io: I,
        facts: Option<Arc<tls::TlsFacts>>,
    ) -> Serving<
        impl Future<Output = Result<(), ConnectionError>> + Send,
        impl Future<Output = ()> + Send,
    >
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let expired = self.clock.clone().expired();
        let peer = self.peer;
        Serving::new(self.run(io, facts), expired, peer)
    }

    async fn run<I>(self, io: I, facts: Option<Arc<tls::TlsFacts>>) -> Result<(), ConnectionError>
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Accepted {
            live,
            builder,
            peer,
            mut drain,
            clock,
            max_head,
        } = self;
        let negotiated_h2 = facts
            .as_ref()
            .is_some_and(|facts| facts.alpn.as_deref() == Some("h2"));
        let (io, unread) = if negotiated_h2 {
            (io, Bytes::new())
        } else {
            let handle = |request: http::Request<()>| {
                let gateway = live.current();
                let in_flight = clock.request(http::Version::HTTP_11);
                // Boxed: see the note in the service below.
                Box::pin(pipeline::handle(
                    gateway,
                    request.map(|()| body::empty()),
                    peer,
                    facts.clone(),
                    in_flight,
                ))
            };
            match http1::serve(io, max_head, &mut drain, handle).await? {
                Ended::Closed => return Ok(()),
                Ended::HandOver(io, unread) => (io, unread),
            }
        };

        let requests = clock.clone();
        let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
            // Each request runs on the configuration current when it starts.
            let gateway = live.current();
            let facts = facts.clone();
            let in_flight = requests.request(request.version());
            async move {
                // hyper keeps a box the size of this future for the whole
                // life of a keep-alive connection; boxing the request's own
                // (large) future keeps that box small and allocates the big
                // one only while a request is in flight.
                let handling = Box::pin(pipeline::handle(
                    gateway,
                    request.map(body::boxed),
                    peer,
                    facts,
                    in_flight,
                ));
                // hyper writes every field from the response's map.
                Ok::<_, Infallible>(handling.await.into_response())
            }
        });
        let connection = builder
            .serve_connection(TokioIo::new(Rewind::new(unread, io)), service)
            .into_owned();
        tokio::pin!(connection);
        // The connection first: the bytes handed over hold a request,
        // which a drain that has already started must not cut off before
        // hyper has read it.
        tokio::select! {
            biased;
            ended = connection.as_mut() => return ended,
            () = drain.started() => connection.as_mut().graceful_shutdown(),
        }
        connection.await
    }
}

fn count_handshake(result: &str) {
    crate::telemetry::get()
        .metrics
        .tls_handshakes
        .get_or_create(&vec![("result", result.to_string())])
        .inc();
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut interrupt), Ok(mut terminate)) => {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
        _ => {
            tracing::error!("cannot install signal handlers; stop with SIGKILL");
            std::future::pending::<()>().await;
        }
    }
}

/// Serve the plain-HTTP listener that only redirects to HTTPS: 308 keeps
/// the method and body semantics, unlike 301/302.
/// Routes with `plain_http = "refuse"` get 403 instead.
pub async fn serve_redirect(listener: TcpListener, https_port: u16, live: Arc<Live>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let live = live.clone();
        let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
            let refused = refuses_plain_http(&live.current(), &request);
            async move {
                Ok::<_, Infallible>(if refused {
                    crate::error::json_error(
                        http::StatusCode::FORBIDDEN,
                        "this API is served over HTTPS only",
                        "-",
                    )
                } else {
                    redirect_response(&request, https_port)
                })
            }
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}

/// Whether the route this request would take refuses plain HTTP.
fn refuses_plain_http<B>(gateway: &Gateway, request: &http::Request<B>) -> bool {
    let host =
        crate::routing::request_authority(request.uri(), request.headers()).unwrap_or_default();
    gateway
        .router
        .find(host, request.uri().path(), request.method())
        .is_some_and(|route| route.refuse_plain_http)
}

fn redirect_response<B>(
    request: &http::Request<B>,
    https_port: u16,
) -> http::Response<crate::body::BoxBody> {
    let host = request
        .uri()
        .authority()
        .map(|a| a.host().to_string())
        .or_else(|| {
            let host = request.headers().get(http::header::HOST)?.to_str().ok()?;
            Some(host.rsplit_once(':').map_or(host, |(h, _)| h).to_string())
        })
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b))
        });
    let Some(host) = host else {
        return crate::error::json_error(
            http::StatusCode::BAD_REQUEST,
            "the request names no host",
            "-",
        );
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let path = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let location = format!("https://{host}{port}{path}");
    let mut response = http::Response::new(crate::body::empty());
    *response.status_mut() = http::StatusCode::PERMANENT_REDIRECT;
    if let Ok(value) = http::HeaderValue::from_str(&location) {
        response.headers_mut().insert(http::header::LOCATION, value);
    }
    response
}
