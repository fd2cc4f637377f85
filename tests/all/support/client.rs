//! A plain HTTP client for tests.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// What came back.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text (lossy), for failure messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Send a request over HTTP/1.1.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    send_with(false, method, url, headers, body.into()).await
}

/// GET over HTTP/1.1.
pub async fn get(url: &str) -> Reply {
    send("GET", url, &[], Bytes::new()).await
}

/// GET `url` until it answers 200 (each try bounded by 2 s), for up to
/// `bound`; whether it did.
pub async fn get_until_ok(url: &str, bound: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + bound;
    while std::time::Instant::now() < deadline {
        let url = url.to_string();
        let attempt = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            tokio::spawn(async move { get(&url).await.status }),
        )
        .await;
        if let Ok(Ok(status)) = attempt
            && status == 200
        {
            return true;
        }
    }
    false
}

/// Send a request over HTTP/2 with prior knowledge (h2c).
pub async fn send_h2(method: &str, url: &str, body: impl Into<Bytes>) -> Reply {
    send_with(true, method, url, &[], body.into()).await
}

async fn send_with(
    h2: bool,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Reply {
    let client = Client::builder(TokioExecutor::new())
        .http2_only(h2)
        .build_http::<Full<Bytes>>();
    let mut request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(body)).expect("request");
    let response = client
        .request(request)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e:?}"));
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("read body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// `GET url` with `Authorization: Bearer token`.
pub async fn get_with_bearer(url: &str, token: &str) -> Reply {
    let bearer = format!("Bearer {token}");
    send("GET", url, &[("authorization", &bearer)], "").await
}

/// GET `path` over TLS from `addr`, naming `host` (SNI and `Host`), with
/// extra `headers`: the status, or why there was none (a refused
/// handshake, a closed connection, no answer within 10 s).
pub async fn tls_get(
    addr: std::net::SocketAddr,
    config: std::sync::Arc<rustls::ClientConfig>,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<StatusCode, String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name =
        rustls_pki_types::ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut request = Request::get(path).header("host", host);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(http_body_util::Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        send.send_request(request),
    )
    .await
    .map_err(|_| "no answer".to_string())?
    .map_err(|e| e.to_string())?;
    Ok(response.status())
}
