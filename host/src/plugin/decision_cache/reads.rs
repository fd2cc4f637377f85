//! What a plugin read of a request and its context during one call, and
//! those values encoded for a later request, so two requests can be told
//! apart exactly where the plugin looked and nowhere else.

use std::net::IpAddr;

use http::HeaderMap;

use crate::context::RequestContext;
use crate::plugin::view::{RequestView, ResponseView, version_text};

/// One getter of the `request`, `response` or `context` resource, with its
/// argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    Method,
    Scheme,
    Authority,
    Path,
    Query,
    /// `header(name)` and `header-all(name)` alike: every value is encoded.
    Header(Box<str>),
    /// `headers()` and `raw-headers()`.
    Headers,
    Version,
    ClientIp,
    RouteId,
    TlsVersion,
    TlsSni,
    TlsClientSubject,
    TlsClientFingerprint,
    TlsClientSans,
    Principal,
    Scopes,
    Roles,
    /// `claims()` and `claim(name)` alike.
    Claims,
    Country,
    RiskScore,
    Entry(Box<str>),
    /// A `geo.country` lookup: its answer follows from the address asked
    /// (read before) and the database in use.
    GeoDatabase,
    /// `response.status()`.
    Status,
    /// `response.header(name)` and `response.header-all(name)`.
    ResponseHeader(Box<str>),
    /// `response.headers()`.
    ResponseHeaders,
}

impl Read {
    /// Whether this reads the response.
    pub fn is_of_response(&self) -> bool {
        matches!(
            self,
            Read::Status | Read::ResponseHeader(_) | Read::ResponseHeaders
        )
    }
}

/// Append what `read` returns for `request`, `response` (in response
/// phases) and `context` to `out`. Every value is length-prefixed and every
/// absent one has its own marker, so two different sequences of values
/// never encode the same.
pub fn encode(
    read: &Read,
    request: &RequestView,
    response: Option<&ResponseView>,
    context: &RequestContext,
    geo_generation: Option<u64>,
    out: &mut Vec<u8>,
) {
    let tls = request.tls.as_deref();
    let cert = tls.and_then(|t| t.client.as_ref());
    match read {
        Read::Method => text(out, request.method.as_str()),
        Read::Scheme => text(out, request.scheme),
        Read::Authority => text(out, &request.authority),
        Read::Path => text(out, &request.path),
        Read::Query => maybe(out, request.query.as_deref()),
        Read::Header(name) => header_values(out, &request.headers, name),
        Read::Headers => all_headers(out, &request.headers),
        Read::Version => text(out, version_text(request.version)),
        // The getter's text is a function of the address: its octets do.
        Read::ClientIp => match request.client_ip {
            IpAddr::V4(ip) => {
                out.push(4);
                out.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                out.push(6);
                out.extend_from_slice(&ip.octets());
            }
        },
        Read::RouteId => text(out, &request.route_id),
        Read::TlsVersion => maybe(out, tls.and_then(|t| t.version.as_deref())),
        Read::TlsSni => maybe(out, tls.and_then(|t| t.sni.as_deref())),
        Read::TlsClientSubject => maybe(out, cert.map(|c| c.subject.as_str())),
        Read::TlsClientFingerprint => maybe(out, cert.map(|c| c.fingerprint.as_str())),
        Read::TlsClientSans => list(out, cert.map(|c| c.sans.as_slice()).unwrap_or_default()),
        Read::Principal => maybe(out, context.principal.as_deref()),
        Read::Scopes => list(out, &context.scopes),
        Read::Roles => list(out, &context.roles),
        Read::Claims => {
            count(out, context.claims.len());
            for (name, value) in &context.claims {
                text(out, name);
                text(out, value);
            }
        }
        Read::Country => maybe(out, context.country.as_deref()),
        Read::RiskScore => match context.risk_score {
            Some(score) => {
                out.push(1);
                out.extend_from_slice(&score.to_le_bytes());
            }
            None => out.push(0),
        },
        Read::Entry(key) => maybe(out, context.entries.get(&**key).map(String::as_str)),
        Read::GeoDatabase => match geo_generation {
            Some(generation) => {
                out.push(1);
                out.extend_from_slice(&generation.to_le_bytes());
            }
            None => out.push(0),
        },
        // A request phase has no response: its reads never name one.
        Read::Status => match response {
            Some(response) => {
                out.push(1);
                out.extend_from_slice(&response.status.to_le_bytes());
            }
            None => out.push(0),
        },
        Read::ResponseHeader(name) => match response {
            Some(response) => {
                out.push(1);
                header_values(out, &response.headers, name);
            }
            None => out.push(0),
        },
        Read::ResponseHeaders => match response {
            Some(response) => {
                out.push(1);
                all_headers(out, &response.headers);
            }
            None => out.push(0),
        },
    }
}

fn count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u64).to_le_bytes());
}

fn bytes(out: &mut Vec<u8>, value: &[u8]) {
    count(out, value.len());
    out.extend_from_slice(value);
}

fn text(out: &mut Vec<u8>, value: &str) {
    bytes(out, value.as_bytes());
}

fn maybe(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => {
            out.push(1);
            text(out, value);
        }
        None => out.push(0),
    }
}

fn list(out: &mut Vec<u8>, values: &[String]) {
    count(out, values.len());
    for value in values {
        text(out, value);
    }
}

/// Every value of one header, as received: the getters' text is a function
/// of these bytes.
fn header_values(out: &mut Vec<u8>, headers: &HeaderMap, name: &str) {
    let values = headers.get_all(name);
    count(out, values.iter().count());
    for value in values {
        bytes(out, value.as_bytes());
    }
}

fn all_headers(out: &mut Vec<u8>, headers: &HeaderMap) {
    count(out, headers.len());
    for (name, value) in headers {
        text(out, name.as_str());
        bytes(out, value.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decision cache tests' request, with one `x-a` field.
    fn view() -> RequestView {
        let mut view = crate::plugin::decision_cache::tests::request(None);
        view.headers.append("x-a", "1".parse().expect("value"));
        view
    }

    fn encoded(read: &Read, request: &RequestView, context: &RequestContext) -> Vec<u8> {
        let mut out = Vec::new();
        encode(read, request, None, context, None, &mut out);
        out
    }

    #[test]
    fn absent_empty_and_repeated_values_encode_apart() {
        let context = RequestContext::default();
        let mut with_query = view();
        with_query.query = Some(String::new());
        assert_ne!(
            encoded(&Read::Query, &view(), &context),
            encoded(&Read::Query, &with_query, &context)
        );
        let mut twice = view();
        twice.headers.append("x-a", "1".parse().expect("value"));
        let header = Read::Header("x-a".into());
        assert_ne!(
            encoded(&header, &view(), &context),
            encoded(&header, &twice, &context)
        );
        // "ab" + "c" against "a" + "bc".
        let (mut split_one, mut split_two) = (context.clone(), context.clone());
        split_one.scopes = vec!["ab".into(), "c".into()];
        split_two.scopes = vec!["a".into(), "bc".into()];
        assert_ne!(
            encoded(&Read::Scopes, &view(), &split_one),
            encoded(&Read::Scopes, &view(), &split_two)
        );
    }

    #[test]
    fn header_names_are_matched_without_regard_to_case() {
        let context = RequestContext::default();
        assert_eq!(
            encoded(&Read::Header("X-A".into()), &view(), &context),
            encoded(&Read::Header("x-a".into()), &view(), &context)
        );
    }
}
