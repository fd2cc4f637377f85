//! The `outbound-http` capability: plugins call the origins the operator
//! allowed for them (`http_allow`), and nothing else. The check is on the
//! exact scheme, host and port, before any connection is made; redirects
//! are not followed and response bodies are capped.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Timeout when the plugin asks for none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest a plugin may wait for one response.
const MAX_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body handed back: key sets, discovery documents and
/// authorization answers are a few KiB.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// How long an idle connection to an allowed origin is kept.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// One allowed origin: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl FromStr for Origin {
    type Err = String;

    /// `https://idp.example.com` or `http://127.0.0.1:9000`; no path.
    fn from_str(text: &str) -> Result<Self, String> {
        let uri = http::Uri::from_str(text).map_err(|_| format!("{text:?} is not a URL"))?;
        let origin = Origin::of(&uri)
            .ok_or_else(|| format!("{text:?} is not an http:// or https:// origin"))?;
        let bare_path = matches!(uri.path(), "" | "/") && uri.query().is_none();
        if !bare_path || text.contains('@') {
            return Err(format!(
                "{text:?}: give only scheme://host[:port], without path or credentials"
            ));
        }
        Ok(origin)
    }
}

impl Origin {
    /// The origin of an absolute http(s) URL.
    fn of(uri: &http::Uri) -> Option<Self> {
        let https = match uri.scheme_str()? {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        let host = uri.host()?.to_ascii_lowercase();
        if host.is_empty() {
            return None;
        }
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Some(Self { https, host, port })
    }
}

/// The origins one plugin may call; empty refuses every call.
#[derive(Debug, Clone, Default)]
pub struct AllowList(Arc<Vec<Origin>>);

impl AllowList {
    /// Parse `http_allow` entries; the error names the bad entry.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let origins = entries
            .iter()
            .map(|entry| entry.parse())
            .collect::<Result<Vec<Origin>, String>>()?;
        Ok(Self(Arc::new(origins)))
    }

    /// The URL, if its origin is allowed.
    fn admit(&self, url: &str) -> Option<http::Uri> {
        let uri = http::Uri::from_str(url).ok()?;
        if url.contains('@') {
            // Userinfo in the authority is how allow-lists get fooled.
            return None;
        }
        let origin = Origin::of(&uri)?;
        self.0.contains(&origin).then_some(uri)
    }
}

/// What a plugin's request came to.
#[derive(Debug)]
pub enum Outcome {
    /// A response.
    Response {
        /// Status code.
        status: u16,
        /// Headers, names lower-case.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
    /// Origin not allowed, or not a usable URL.
    NotAllowed,
    /// No response in time.
    Timeout,
    /// Body over [`MAX_RESPONSE_BYTES`].
    TooLarge,
    /// Anything else; the text is for the plugin's logs.
    Failed(String),
}

/// A plugin's request.
pub struct Outgoing {
    /// Method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Timeout asked for, in milliseconds (0 = default).
    pub timeout_ms: u32,
}

type OutboundClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One client for every plugin: connections to an identity provider are
/// reused across plugins and requests.
fn client() -> &'static OutboundClient {
    static CLIENT: OnceLock<OutboundClient> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_connect_timeout(Some(DEFAULT_TIMEOUT));
        connector.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
            .build(https)
    })
}

/// Send `request` if `allowed` admits its URL.
pub async fn send(allowed: &AllowList, request: Outgoing) -> Outcome {
    let Some(uri) = allowed.admit(&request.url) else {
        return Outcome::NotAllowed;
    };
    let Ok(method) = http::Method::from_str(&request.method) else {
        return Outcome::Failed(format!("invalid method {:?}", request.method));
    };
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in &request.headers {
        // The host owns the target and the framing: a plugin-set `Host`
        // could reach another virtual host behind an allowed origin.
        let managed = http::HeaderName::from_bytes(name.as_bytes())
            .is_ok_and(|parsed| parsed == http::header::HOST || super::edits::is_managed(&parsed));
        if managed {
            return Outcome::Failed(format!("header {name:?} is set by the host"));
        }
        builder = builder.header(name.as_str(), value.as_str());
    }
    let outgoing = match builder.body(Full::new(Bytes::from(request.body))) {
        Ok(outgoing) => outgoing,
        Err(e) => return Outcome::Failed(format!("invalid request: {e}")),
    };
    let timeout = match request.timeout_ms {
        0 => DEFAULT_TIMEOUT,
        ms => Duration::from_millis(u64::from(ms)).min(MAX_TIMEOUT),
    };
    let exchange = async {
        let response = client()
            .request(outgoing)
            .await
            .map_err(|e| Outcome::Failed(format!("{e}")))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    Outcome::TooLarge
                } else {
                    Outcome::Failed(format!("{e}"))
                }
            })?
            .to_bytes();
        Ok(Outcome::Response {
            status: parts.status.as_u16(),
            headers: super::view::header_list(&parts.headers),
            body: body.to_vec(),
        })
    };
    let started = Instant::now();
    let outcome = match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(outcome) | Err(outcome)) => outcome,
        Err(_) => Outcome::Timeout,
    };
    tracing::debug!(
        url = %request.url,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "plugin outbound request"
    );
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(entries: &[&str]) -> AllowList {
        AllowList::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>())
            .expect("valid entries")
    }

    #[test]
    fn only_the_exact_origin_is_admitted() {
        let list = allow(&["https://idp.example.com", "http://127.0.0.1:9000"]);
        assert!(list.admit("https://idp.example.com/jwks").is_some());
        assert!(list.admit("https://IDP.example.com:443/x").is_some());
        assert!(list.admit("http://127.0.0.1:9000/x?y").is_some());
        assert!(list.admit("http://idp.example.com/jwks").is_none());
        assert!(list.admit("https://idp.example.com:8443/").is_none());
        assert!(list.admit("https://idp.example.com.evil.test/").is_none());
        assert!(list.admit("https://evil.test@idp.example.com/").is_none());
        assert!(list.admit("http://127.0.0.1:9001/").is_none());
        assert!(list.admit("/relative").is_none());
        assert!(
            AllowList::default()
                .admit("https://idp.example.com/")
                .is_none()
        );
    }

    #[test]
    fn entries_are_bare_origins() {
        assert!(AllowList::parse(&["https://idp.example.com/keys".into()]).is_err());
        assert!(AllowList::parse(&["ftp://idp.example.com".into()]).is_err());
        assert!(AllowList::parse(&["idp.example.com".into()]).is_err());
        assert!(AllowList::parse(&["https://user@idp.example.com".into()]).is_err());
    }
}
