//! A real upstream server for the tests, on 127.0.0.1:0.
//!
//! - `/echo-body`: answers with the request body, unchanged;
//! - `/bytes/N`: answers with N bytes of a fixed pattern;
//! - `/delay/MS`: answers after MS milliseconds;
//! - `/hop`: answers with hop-by-hop headers the gateway must remove;
//! - anything else: a JSON description of the request as received.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

/// A running origin.
pub struct Origin {
    /// Its address.
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

/// The pattern `/bytes/N` serves: byte i is `i % 251`.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

impl Origin {
    /// Start an origin on the current tokio runtime.
    pub async fn start() -> Origin {
        Self::start_with(None).await
    }

    /// Start an origin that speaks TLS with `config`.
    pub async fn start_tls(config: std::sync::Arc<rustls::ServerConfig>) -> Origin {
        Self::start_with(Some(tokio_rustls::TlsAcceptor::from(config))).await
    }

    async fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind origin");
        let addr = listener.local_addr().expect("origin addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let counter = counter.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        answer(req)
                    });
                    let builder = auto::Builder::new(TokioExecutor::new());
                    match tls {
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = builder
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                    }
                });
            }
        });
        Origin { addr, hits, task }
    }

    /// `host:port`, for a route's `targets`.
    pub fn target(&self) -> String {
        self.addr.to_string()
    }

    /// A config fragment: one route sending everything to this origin.
    pub fn route_all(&self) -> String {
        format!(
            "\n[[routes]]\nid = \"origin\"\npath = {{ prefix = \"/\" }}\nupstream = {{ targets = [\"{}\"] }}\n",
            self.target()
        )
    }

    /// Requests served so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    if path == "/echo-body" {
        let body = request
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return Ok(Response::new(Full::new(body)));
    }
    if let Some(n) = path.strip_prefix("/bytes/").and_then(|n| n.parse().ok()) {
        return Ok(Response::new(Full::new(Bytes::from(pattern(n)))));
    }
    if let Some(ms) = path.strip_prefix("/delay/").and_then(|n| n.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        return Ok(Response::new(Full::new(Bytes::from_static(b"done"))));
    }
    if path == "/hop" {
        let response = Response::builder()
            .header("connection", "x-origin-hop")
            .header("x-origin-hop", "1")
            .header("keep-alive", "timeout=5")
            .header("x-origin-kept", "1")
            .body(Full::new(Bytes::from_static(b"hop")))
            .expect("response");
        return Ok(response);
    }
    let mut headers = serde_json::Map::new();
    for (name, value) in request.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(serde_json::Value::Array(values)) => values.push(value.into()),
            _ => {
                headers.insert(name.as_str().to_string(), serde_json::json!([value]));
            }
        }
    }
    let description = serde_json::json!({
        "method": request.method().as_str(),
        "path": path,
        "query": request.uri().query(),
        "headers": headers,
    });
    let response = Response::builder()
        .header("content-type", "application/json")
        .header("server", "test-origin")
        .body(Full::new(Bytes::from(description.to_string())))
        .expect("response");
    Ok(response)
}
