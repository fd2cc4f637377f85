//! What the host lends a plugin for one call: the request, the response, the
//! context and bodies, each behind a resource handle. The data sit in `Arc`s
//! so lending them costs a reference count, not a copy.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::context::RequestContext;

/// The request as plugins see it. The pipeline applies each plugin's edits
/// here, so later plugins see them.
#[derive(Debug, Clone)]
pub struct RequestView {
    /// Method.
    pub method: Method,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Host (and port) the client addressed.
    pub authority: String,
    /// Path without the query.
    pub path: String,
    /// Query without `?`.
    pub query: Option<String>,
    /// Headers.
    pub headers: HeaderMap,
    /// The HTTP version the client spoke.
    pub version: http::Version,
    /// The client's address.
    pub client_ip: IpAddr,
    /// The socket peer (a proxy, when `client_ip` came from `X-Forwarded-For`).
    pub peer_ip: IpAddr,
    /// TLS facts, when the request came over TLS.
    pub tls: Option<Arc<crate::tls::TlsFacts>>,
    /// The matched route.
    pub route_id: Arc<str>,
    /// The request id.
    pub request_id: Arc<str>,
}

/// The upstream response as plugins see it.
#[derive(Debug, Clone)]
pub struct ResponseView {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
}

/// The `request` resource.
pub struct RequestResource {
    /// The request.
    pub view: Arc<RequestView>,
    /// Its body, during the `request-body` phase.
    pub body: Option<Bytes>,
}

/// The `response` resource.
pub struct ResponseResource {
    /// The response.
    pub view: Arc<ResponseView>,
    /// Its body, during the `response-body` phase.
    pub body: Option<Bytes>,
}

/// The `context` resource.
pub struct ContextResource(pub Arc<RequestContext>);

/// The `body` resource.
pub struct BodyResource(pub Bytes);

/// First value of a header, as text.
pub fn header_first(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| value_text(v.as_bytes()))
}

/// Every value of a header, as text.
pub fn header_all(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| value_text(v.as_bytes()))
        .collect()
}

/// A header value as text, invalid UTF-8 replaced. Values are nearly
/// always ASCII: `from_utf8` checks them a word at a time, where the lossy
/// conversion's own scan goes a byte at a time.
fn value_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Every header, values as received.
pub fn raw_header_list(headers: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), value.as_bytes().to_vec()))
        .collect()
}

/// `HTTP/1.1` and the like, as in a request line.
pub fn version_text(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

pub fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), value_text(value.as_bytes())))
        .collect()
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn header_values_are_text_with_invalid_bytes_replaced() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", HeaderValue::from_static("plain"));
        headers.append(
            "x-a",
            HeaderValue::from_bytes(b"caf\xc3\xa9").expect("value"),
        );
        headers.append(
            "x-a",
            HeaderValue::from_bytes(b"bad \xff byte").expect("value"),
        );
        assert_eq!(
            header_all(&headers, "x-a"),
            ["plain", "café", "bad \u{fffd} byte"]
        );
        assert_eq!(header_first(&headers, "X-A").as_deref(), Some("plain"));
    }
}
