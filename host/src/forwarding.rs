//! Header hygiene between client and upstream: hop-by-hop headers removed
//! in both directions (RFC 9110 §7.6.1, including those the `Connection`
//! header names), `X-Forwarded-*` added, and a request id kept or made.

use std::net::IpAddr;

use http::HeaderMap;
use http::header::{
    CONNECTION, Entry, HOST, HeaderName, HeaderValue, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE,
    TRAILER, TRANSFER_ENCODING, UPGRADE,
};

/// The request id header.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Headers that describe one connection, not the message.
static HOP_BY_HOP: [HeaderName; 9] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION,
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
];

/// Remove hop-by-hop headers and every header listed in `Connection`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Which of them are present, one bit each, found by one match on each
    // name's text (a length switch, then one comparison): most messages
    // carry none, most others only `Connection: keep-alive`, and removing
    // a name that is not there still hashes it.
    let present = headers.keys().fold(0u16, |bits, name| {
        bits | hop_by_hop_bit(name.as_str().as_bytes())
    });
    if present == 0 {
        return;
    }
    if present & hop_by_hop_bit(b"connection") != 0 && !only_keep_alive(headers) {
        // Names `Connection` lists beyond the fixed set; collecting none
        // allocates nothing.
        let listed: Vec<HeaderName> = headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|name| hop_by_hop_bit_any_case(name.as_bytes()) == 0)
            .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
            .collect();
        for name in listed {
            headers.remove(name);
        }
    }
    for (index, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << index) != 0 {
            headers.remove(name);
        }
    }
}

/// Whether `Connection` is the one value most messages carry,
/// `keep-alive`, which names nothing beyond the fixed set: then its list
/// need not be split, trimmed and lowercased (a few hundred instructions,
/// on a request and again on its response).
fn only_keep_alive(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(CONNECTION).iter();
    matches!(
        (values.next(), values.next()),
        (Some(value), None) if value.as_bytes().eq_ignore_ascii_case(b"keep-alive")
    )
}

/// The bit of `name` (lowercase, as header names are stored) in
/// [`HOP_BY_HOP`]'s order, or 0 for any other name.
fn hop_by_hop_bit(name: &[u8]) -> u16 {
    let index = match name {
        b"connection" => 0,
        b"keep-alive" => 1,
        b"proxy-connection" => 2,
        b"proxy-authenticate" => 3,
        b"proxy-authorization" => 4,
        b"te" => 5,
        b"trailer" => 6,
        b"transfer-encoding" => 7,
        b"upgrade" => 8,
        _ => return 0,
    };
    1 << index
}

/// [`hop_by_hop_bit`] for a name in any case (as a `Connection` value or
/// a head spells it). Only names of a hop-by-hop name's length are
/// lowercased: most names are not, and cost a compare.
fn hop_by_hop_bit_any_case(name: &[u8]) -> u16 {
    if !matches!(name.len(), 2 | 7 | 10 | 16 | 17 | 18 | 19) {
        return 0;
    }
    let mut lower = [0u8; "proxy-authorization".len()];
    let Some(lower) = lower.get_mut(..name.len()) else {
        return 0;
    };
    for (to, from) in lower.iter_mut().zip(name) {
        *to = from.to_ascii_lowercase();
    }
    hop_by_hop_bit(lower)
}

/// The hop-by-hop field `name` (in any case, as a head spells it) names,
/// if it is one.
pub fn hop_by_hop_name(name: &[u8]) -> Option<&'static HeaderName> {
    let bit = hop_by_hop_bit_any_case(name);
    (bit != 0).then(|| &HOP_BY_HOP[bit.trailing_zeros() as usize])
}

/// Add `X-Forwarded-For` (appending the client to any existing list),
/// `X-Forwarded-Proto` and `X-Forwarded-Host`. Every request comes here, so
/// the values are built without `format!`.
pub fn add_forwarded(headers: &mut HeaderMap, client_ip: IpAddr, scheme: &str, host: &str) {
    // One lookup (X-Forwarded-* are not standard names: each lookup
    // hashes the name) both reads and replaces the list.
    match headers.entry(&X_FORWARDED_FOR) {
        Entry::Occupied(mut entry) => {
            if let Ok(value) = forwarded_for(Some(entry.get()), client_ip) {
                entry.insert(value);
            }
        }
        Entry::Vacant(entry) => {
            if let Ok(value) = forwarded_for(None, client_ip) {
                entry.insert(value);
            }
        }
    }
    let proto = match scheme {
        "https" => Ok(HeaderValue::from_static("https")),
        "http" => Ok(HeaderValue::from_static("http")),
        other => HeaderValue::from_str(other),
    };
    if let Ok(value) = proto {
        headers.insert(X_FORWARDED_PROTO.clone(), value);
    }
    // The Host header usually holds the very text: share it, no copy.
    let forwarded_host = match headers.get(HOST) {
        Some(value) if value.as_bytes() == host.as_bytes() => Ok(value.clone()),
        _ => HeaderValue::from_str(host),
    };
    if let Ok(value) = forwarded_host {
        headers.insert(X_FORWARDED_HOST.clone(), value);
    }
}

/// `existing` (when it lists anything), then the client.
fn forwarded_for(
    existing: Option<&HeaderValue>,
    client_ip: IpAddr,
) -> Result<HeaderValue, http::header::InvalidHeaderValue> {
    let mut list = Vec::new();
    if let Some(existing) = existing
        .and_then(|v| v.to_str().ok())
        .filter(|existing| !existing.trim().is_empty())
    {
        list.reserve(existing.len() + 2 + 15);
        list.extend_from_slice(existing.as_bytes());
        list.extend_from_slice(b", ");
    }
    crate::ip_text::push_ip(&mut list, client_ip);
    HeaderValue::from_maybe_shared(bytes::Bytes::from(list))
}

/// An IP network, or a single address as a /32 or /128.
pub fn parse_network(text: &str) -> Option<ipnet::IpNet> {
    text.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
}

/// The client's address. `X-Forwarded-For` is believed only when the peer
/// is a trusted proxy, and then only up to the first address (from the
/// right) that is not itself a trusted proxy: anything further left was
/// written by the client and may be forged.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&canonical(*ip)));
    if trusted.is_empty() || !is_trusted(&peer) {
        return peer;
    }
    // From the right: the last header's last entry first.
    let hops = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .rev()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.rsplit(','))
        .map(str::trim);
    let mut client = peer;
    for hop in hops {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => client = ip,
            Ok(ip) => return ip,
            // An unparsable entry ends what can be believed.
            Err(_) => return client,
        }
    }
    client
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's request id if it is a sane token, else a new random one.
pub fn request_id(headers: &HeaderMap) -> HeaderValue {
    let valid = |id: &&HeaderValue| {
        (1..=128).contains(&id.len())
            && id
                .as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    };
    match headers.get(&X_REQUEST_ID).filter(valid) {
        // Shares the client's bytes: no copy.
        Some(id) => id.clone(),
        // Hex digits are valid header text: this never falls back.
        None => HeaderValue::from_bytes(&random_id()).unwrap_or(HeaderValue::from_static("-")),
    }
}

/// 128 random bits as 32 lower-case hex digits.
fn random_id() -> [u8; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = fastrand::u128(..);
    let mut digits = [0u8; 32];
    for (i, digit) in digits.iter_mut().enumerate() {
        *digit = HEX[((bits >> (124 - 4 * i)) & 0xf) as usize];
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_listed_headers_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "connection",
            HeaderValue::from_static("Keep-Alive, X-Secret-Hop, Upgrade"),
        );
        headers.insert("x-secret-hop", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("te", HeaderValue::from_static("trailers"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("x-kept"));
    }

    #[test]
    fn a_lone_keep_alive_is_removed_with_its_parameters_and_nothing_else() {
        for spelling in ["keep-alive", "Keep-Alive"] {
            let mut headers = HeaderMap::new();
            headers.insert("connection", HeaderValue::from_static(spelling));
            headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
            headers.insert("x-kept", HeaderValue::from_static("1"));
            strip_hop_by_hop(&mut headers);
            assert_eq!(headers.len(), 1, "{spelling}");
            assert!(headers.contains_key("x-kept"));
        }
        // A second Connection field is read whole.
        let mut headers = HeaderMap::new();
        headers.append("connection", HeaderValue::from_static("keep-alive"));
        headers.append("connection", HeaderValue::from_static("x-hop"));
        headers.insert("x-hop", HeaderValue::from_static("1"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("x-kept"));
    }

    #[test]
    fn a_listed_name_longer_than_any_hop_by_hop_name_is_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "connection",
            HeaderValue::from_static("x-a-rather-long-connection-option"),
        );
        headers.insert(
            "x-a-rather-long-connection-option",
            HeaderValue::from_static("1"),
        );
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("x-kept"));
    }

    #[test]
    fn hop_by_hop_names_are_known_in_any_case() {
        for name in &HOP_BY_HOP {
            let shouted = name.as_str().to_ascii_uppercase();
            assert_eq!(hop_by_hop_name(shouted.as_bytes()), Some(name));
            assert_eq!(hop_by_hop_name(name.as_str().as_bytes()), Some(name));
        }
        for other in [
            "Content-Length",
            "X-Connection",
            "Connectio",
            "",
            "Proxy-Authorizations",
        ] {
            assert_eq!(hop_by_hop_name(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn each_hop_by_hop_header_alone_is_removed() {
        for (index, name) in HOP_BY_HOP.iter().enumerate() {
            assert_eq!(
                hop_by_hop_bit(name.as_str().as_bytes()),
                1 << index,
                "{name}"
            );
            let mut headers = HeaderMap::new();
            headers.insert(name.clone(), HeaderValue::from_static("x"));
            headers.insert("x-kept", HeaderValue::from_static("1"));
            strip_hop_by_hop(&mut headers);
            assert_eq!(headers.len(), 1, "{name} kept");
        }
        assert_eq!(hop_by_hop_bit(b"x-connection"), 0);
    }

    #[test]
    fn forwarded_for_appends() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
        add_forwarded(
            &mut headers,
            "127.0.0.1".parse().expect("ip"),
            "http",
            "example.com",
        );
        assert_eq!(headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["x-forwarded-host"], "example.com");
    }

    #[test]
    fn forwarded_headers_start_fresh_and_name_the_routed_host() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("api.example.com"));
        add_forwarded(
            &mut headers,
            "::1".parse().expect("ip"),
            "https",
            "api.example.com",
        );
        assert_eq!(headers["x-forwarded-for"], "::1");
        assert_eq!(headers["x-forwarded-proto"], "https");
        assert_eq!(headers["x-forwarded-host"], "api.example.com");

        // A Host header a plugin rewrote is not the host the client asked for.
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("internal.local"));
        headers.insert("x-forwarded-for", HeaderValue::from_static(" "));
        add_forwarded(
            &mut headers,
            "192.0.2.7".parse().expect("ip"),
            "http",
            "api.example.com",
        );
        assert_eq!(headers["x-forwarded-for"], "192.0.2.7");
        assert_eq!(headers["x-forwarded-host"], "api.example.com");
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = vec![parse_network("10.0.0.0/8").expect("net")];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.1, 203.0.113.9, 10.1.1.1"),
        );
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(
            client_ip(ip("10.0.0.2"), &headers, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("192.0.2.1"), &headers, &trusted),
            ip("192.0.2.1")
        );
        assert_eq!(client_ip(ip("10.0.0.2"), &headers, &[]), ip("10.0.0.2"));
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("garbage, 10.1.1.1"),
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &headers, &trusted),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn forwarded_for_over_several_headers_is_read_from_the_right() {
        let trusted = vec![parse_network("10.0.0.0/8").expect("net")];
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", HeaderValue::from_static("198.51.100.1"));
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9, 10.1.1.1"),
        );
        headers.append("x-forwarded-for", HeaderValue::from_static("10.2.2.2"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), &headers, &trusted),
            ip("203.0.113.9")
        );
        let mut all_trusted = HeaderMap::new();
        all_trusted.append("x-forwarded-for", HeaderValue::from_static("10.3.3.3"));
        all_trusted.append("x-forwarded-for", HeaderValue::from_static("10.4.4.4"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), &all_trusted, &trusted),
            ip("10.3.3.3")
        );
    }

    #[test]
    fn generated_request_ids_are_hex() {
        let id = random_id();
        assert_eq!(id.len(), 32);
        assert!(
            id.iter()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(id, random_id());
    }

    #[test]
    fn request_ids_are_kept_when_sane() {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&headers), "abc-123");
        assert_eq!(request_id(&headers).to_str().ok(), Some("abc-123"));
        headers.insert(
            "x-request-id",
            HeaderValue::from_static("bad id with spaces"),
        );
        let generated = request_id(&headers);
        assert_eq!(generated.len(), 32);
    }
}
