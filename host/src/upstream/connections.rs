//! Keep-alive HTTP/1.1 connections to one upstream target, reused last in,
//! first out. A connection goes back when its response body has been read
//! to the end; one whose body was abandoned is closed instead. Two kinds
//! are kept: plain connections for requests without a body (exchanged by
//! the request's own task, `super::inline`), and hyper's client
//! connections for requests with a body and for TLS targets.
//!
//! This replaces hyper-util's pooled client, whose checkout and return (a
//! map keyed by scheme and authority, and a task spawned per request to
//! hand the connection back) cost about 8,000 instructions a request.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use super::inline::{self, Conn, ExchangeError, Home, InlineBody};
use crate::body::{BoxBody, boxed};
use crate::reply::Reply;

/// How long an idle connection is kept for reuse.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// How often kept plain connections are checked for a close by the
/// upstream. Nothing else reads them while they wait, and each one the
/// upstream closed holds a descriptor until it is dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// How connections to the targets are made.
pub struct Connector {
    /// Bound on resolving the target and the TCP connect (a TLS handshake
    /// counts against the request's timeout).
    pub connect_timeout: Duration,
    /// TLS over the TCP connection, if the targets speak it.
    pub tls: Option<TlsConnector>,
}

/// TLS to the targets.
pub struct TlsConnector {
    /// The route's client configuration.
    pub config: tokio_rustls::TlsConnector,
    /// The name to verify, when not the target's host.
    pub server_name: Option<ServerName<'static>>,
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No connection could be made (nothing was sent).
    #[error("connect: {0}")]
    Connect(std::io::Error),
    /// The exchange failed on an open connection.
    #[error(transparent)]
    Exchange(#[from] hyper::Error),
    /// An inline exchange failed.
    #[error(transparent)]
    Inline(#[from] ExchangeError),
}

struct Idle {
    sender: SendRequest<BoxBody>,
    since: Instant,
}

impl Idle {
    /// Still worth reusing: not idle too long, not closed by the server.
    fn is_fresh(&self) -> bool {
        self.since.elapsed() < IDLE_TIMEOUT && !self.sender.is_closed()
    }
}

/// A connection kept for inline exchanges.
struct IdleConn {
    conn: Conn,
    since: Instant,
}

/// The idle connections to one target: hyper's, for requests with a
/// body and TLS targets, and plain ones for inline exchanges.
pub struct Connections {
    idle: Mutex<Vec<Idle>>,
    idle_plain: Mutex<Vec<IdleConn>>,
    max_idle: usize,
    /// Whether a task is checking the kept plain connections.
    sweeping: AtomicBool,
    /// This, for the sweeping task, which ends with it.
    this: Weak<Connections>,
}

impl Connections {
    /// Keep at most `max_idle` idle connections.
    pub fn new(max_idle: usize) -> Arc<Self> {
        Arc::new_cyclic(|this| Self {
            idle: Mutex::new(Vec::new()),
            idle_plain: Mutex::new(Vec::new()),
            max_idle,
            sweeping: AtomicBool::new(false),
            this: this.clone(),
        })
    }

    /// Send `request` (origin-form URI, `Host` set) to `authority` on an
    /// idle connection, or a new one.
    pub async fn send(
        self: &Arc<Self>,
        connector: &Connector,
        authority: &str,
        mut request: Request<BoxBody>,
    ) -> Result<Reply, SendError> {
        if connector.tls.is_none() && inline::eligible(&request) {
            return self.send_inline(connector, authority, request).await;
        }
        while let Some(mut sender) = self.take() {
            // The server may have closed it while it was idle: then the
            // request comes back unsent and the next one is tried.
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.returning(response, sender).into()),
                Err(mut failed) => match failed.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(SendError::Exchange(failed.into_error())),
                },
            }
        }
        // Boxed: a connect (DNS, TCP, TLS handshake) is a large future that
        // would otherwise size, and be moved with, every reused-connection
        // send.
        let mut sender = Box::pin(connect(connector, authority)).await?;
        let response = sender.send_request(request).await?;
        Ok(self.returning(response, sender).into())
    }

    /// Send a bodiless `request` on a kept plain connection, or a new one,
    /// by an inline exchange.
    async fn send_inline(
        self: &Arc<Self>,
        connector: &Connector,
        authority: &str,
        request: Request<BoxBody>,
    ) -> Result<Reply, SendError> {
        let mut head = Vec::new();
        inline::encode(&request, &mut head);
        // The request is all in `head` now: its (empty, unsynchronized)
        // body must not be held across the awaits below.
        let method = request.method().clone();
        drop(request);
        let method = &method;
        let mut repeatable = super::is_idempotent(method);
        // Let the other requests ready in this turn of the scheduler run
        // first, so their upstream writes go out back to back: a write to
        // an upstream asleep on another core wakes it (an interrupt to
        // that core, a VM exit on a virtual machine), and one wake-up then
        // serves several requests, as hyper's connection tasks, which ran
        // after the requests, did.
        tokio::task::yield_now().await;
        while let Some(mut conn) = self.take_plain() {
            match conn.exchange(&head, method).await {
                Ok(parsed) => return Ok(self.inline_response(parsed, conn)),
                Err(e) if e.may_resend(repeatable) => {
                    // A request the upstream may have seen (and then
                    // closed on) goes again once at most, not once for
                    // every kept connection.
                    repeatable &= !e.was_sent();
                }
                Err(e) => return Err(e.into()),
            }
        }
        // Boxed for the reason `send` boxes it.
        let stream = Box::pin(open_tcp(authority, connector.connect_timeout)).await?;
        stream.set_nodelay(true).map_err(SendError::Connect)?;
        let mut conn = Conn::new(stream);
        let parsed = conn.exchange(&head, method).await?;
        Ok(self.inline_response(parsed, conn))
    }

    /// The response of an inline exchange, whose body hands the
    /// connection back once read.
    fn inline_response(self: &Arc<Self>, head: inline::Head, conn: Conn) -> Reply {
        let body = InlineBody::new(conn, head.framing, head.reusable, self.clone());
        let mut response = Response::new(boxed(body));
        *response.status_mut() = head.status;
        *response.version_mut() = head.version;
        *response.headers_mut() = head.headers;
        if let Some(reason) = head.reason {
            response.extensions_mut().insert(reason);
        }
        Reply {
            response,
            passed: head.passed,
        }
    }

    /// The most recently used plain connection still fresh, if any.
    fn take_plain(&self) -> Option<Conn> {
        let mut idle = lock(&self.idle_plain);
        while let Some(entry) = idle.pop() {
            if entry.since.elapsed() < IDLE_TIMEOUT && entry.conn.is_open() {
                return Some(entry.conn);
            }
        }
        None
    }

    /// The most recently used idle connection still fresh, if any.
    fn take(&self) -> Option<SendRequest<BoxBody>> {
        let mut idle = self.lock();
        while let Some(entry) = idle.pop() {
            if entry.is_fresh() {
                return Some(entry.sender);
            }
        }
        None
    }

    /// Keep `sender` for the next request once it can take one. A response
    /// can end before its request body has been sent (an early 401 or 413
    /// to an upload): such a connection is kept only when the upload is
    /// done, so no request waits behind someone else's slow client.
    fn give_back(self: &Arc<Self>, mut sender: SendRequest<BoxBody>) {
        if sender.is_closed() {
            return;
        }
        if sender.is_ready() {
            self.keep(sender);
            return;
        }
        // Outside the runtime (shutting down) the connection just closes.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let home = Arc::clone(self);
            runtime.spawn(async move {
                if sender.ready().await.is_ok() {
                    home.keep(sender);
                }
            });
        }
    }

    /// Keep a ready `sender`, if there is room.
    fn keep(&self, sender: SendRequest<BoxBody>) {
        let mut idle = self.lock();
        if idle.len() >= self.max_idle {
            idle.retain(Idle::is_fresh);
        }
        if idle.len() < self.max_idle {
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        lock(&self.idle)
    }

    /// The response, whose body hands the connection back once read.
    fn returning(
        self: &Arc<Self>,
        response: Response<Incoming>,
        sender: SendRequest<BoxBody>,
    ) -> Response<BoxBody> {
        response.map(|body| {
            boxed(Returning {
                body,
                sender: Some(sender),
                home: Arc::clone(self),
            })
        })
    }
}

impl Home for Connections {
    fn keep(&self, conn: Conn) {
        let mut idle = lock(&self.idle_plain);
        if idle.len() >= self.max_idle {
            idle.retain(|entry| entry.since.elapsed() < IDLE_TIMEOUT);
        }
        if idle.len() < self.max_idle {
            idle.push(IdleConn {
                conn,
                since: Instant::now(),
            });
        }
        drop(idle);
        self.start_sweeping();
    }
}

impl Connections {
    /// Check the kept plain connections every [`SWEEP_EVERY`] and drop
    /// those closed or stale, until none is left (the next one kept
    /// starts this again) or the targets are replaced.
    fn start_sweeping(&self) {
        // Every response hands a connection back: a plain load first keeps
        // that from writing the flag's cache line each time.
        if self.sweeping.load(Ordering::Acquire) || self.sweeping.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.sweeping.store(false, Ordering::Release);
            return;
        };
        let this = self.this.clone();
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(SWEEP_EVERY).await;
                let Some(connections) = this.upgrade() else {
                    return;
                };
                let mut idle = lock(&connections.idle_plain);
                idle.retain(|entry| entry.since.elapsed() < IDLE_TIMEOUT && entry.conn.is_open());
                if idle.is_empty() {
                    connections.sweeping.store(false, Ordering::Release);
                    return;
                }
            }
        });
    }
}

fn lock<T>(list: &Mutex<Vec<T>>) -> std::sync::MutexGuard<'_, Vec<T>> {
    // Pushing or popping a Vec cannot leave it inconsistent.
    list.lock().unwrap_or_else(|e| e.into_inner())
}

/// Open a connection to `authority` and start its connection task.
async fn connect(
    connector: &Connector,
    authority: &str,
) -> Result<SendRequest<BoxBody>, SendError> {
    let stream = open_tcp(authority, connector.connect_timeout).await?;
    stream.set_nodelay(true).map_err(SendError::Connect)?;
    let Some(tls) = &connector.tls else {
        return handshake(stream).await;
    };
    let name = match &tls.server_name {
        Some(name) => name.clone(),
        None => host_name(authority)?,
    };
    let stream = tls
        .config
        .connect(name, stream)
        .await
        .map_err(SendError::Connect)?;
    handshake(stream).await
}

/// A TCP connection to the first of `authority`'s addresses that answers.
/// The timeout is shared out among the addresses, so a name whose first
/// address drops packets (a dead IPv6 route, say) still reaches the next.
async fn open_tcp(authority: &str, connect_timeout: Duration) -> Result<TcpStream, SendError> {
    let timed_out = || {
        SendError::Connect(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connect timed out",
        ))
    };
    let addresses: Vec<std::net::SocketAddr> =
        tokio::time::timeout(connect_timeout, tokio::net::lookup_host(authority))
            .await
            .map_err(|_| timed_out())?
            .map_err(SendError::Connect)?
            .collect();
    let share = connect_timeout / u32::try_from(addresses.len().max(1)).unwrap_or(u32::MAX);
    let mut last = None;
    for address in addresses {
        match tokio::time::timeout(share, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = Some(SendError::Connect(e)),
            Err(_) => last = Some(timed_out()),
        }
    }
    Err(last.unwrap_or_else(|| {
        SendError::Connect(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the name has no address",
        ))
    }))
}

/// The name a target's certificate must carry: its host.
fn host_name(authority: &str) -> Result<ServerName<'static>, SendError> {
    let host = authority
        .parse::<http::uri::Authority>()
        .map(|a| {
            a.host()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string()
        })
        .unwrap_or_else(|_| authority.to_string());
    ServerName::try_from(host)
        .map_err(|e| SendError::Connect(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))
}

async fn handshake<I>(io: I) -> Result<SendRequest<BoxBody>, SendError>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("upstream connection ended: {e}");
        }
    });
    Ok(sender)
}

/// A response body that gives its connection back when read to the end.
struct Returning {
    body: Incoming,
    sender: Option<SendRequest<BoxBody>>,
    home: Arc<Connections>,
}

impl Returning {
    fn give_back(&mut self) {
        if let Some(sender) = self.sender.take() {
            self.home.give_back(sender);
        }
    }
}

impl Body for Returning {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.give_back();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        // An empty body may never be polled; one dropped unread leaves the
        // connection mid-message, and hyper closes it.
        if self.body.is_end_stream() {
            self.give_back();
        }
    }
}
