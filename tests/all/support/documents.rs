//! A real HTTP server of JSON documents that a test can replace while it
//! runs (a JWKS being rotated, a discovery document), counting the fetches
//! of each path.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::Value;
use tokio::net::TcpListener;

#[derive(Default)]
struct Shelf {
    documents: HashMap<String, Value>,
    fetches: HashMap<String, usize>,
}

/// A running document server.
pub struct Documents {
    addr: SocketAddr,
    shelf: Arc<Mutex<Shelf>>,
    task: tokio::task::JoinHandle<()>,
}

impl Documents {
    /// Start on 127.0.0.1:0 with no documents (every path is 404).
    pub async fn start() -> Documents {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shelf = Arc::new(Mutex::new(Shelf::default()));
        let served = shelf.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shelf = served.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let shelf = shelf.clone();
                        async move { Ok::<_, Infallible>(answer(&shelf, request.uri().path())) }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Documents { addr, shelf, task }
    }

    /// `http://127.0.0.1:PORT`, for `http_allow` and issuer names.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serve `document` at `path` from now on.
    pub fn put(&self, path: &str, document: Value) {
        self.lock().documents.insert(path.to_string(), document);
    }

    /// Fetches of `path` so far.
    pub fn fetches(&self, path: &str) -> usize {
        self.lock().fetches.get(path).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shelf> {
        self.shelf.lock().expect("shelf lock")
    }
}

fn answer(shelf: &Mutex<Shelf>, path: &str) -> Response<Full<Bytes>> {
    let mut shelf = shelf.lock().expect("shelf lock");
    *shelf.fetches.entry(path.to_string()).or_default() += 1;
    let (status, body) = match shelf.documents.get(path) {
        Some(document) => (200, document.to_string()),
        None => (404, "{}".to_string()),
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("response")
}

impl Drop for Documents {
    fn drop(&mut self) {
        self.task.abort();
    }
}
