//! Reading a request head, and deciding whether this server serves it or
//! hands the connection to hyper.
//!
//! Served here: HTTP/1.1 requests without a body (no `Content-Length`, no
//! `Transfer-Encoding`) that ask for nothing but an answer: no `Expect`,
//! no `Upgrade`, no `TE`, not `CONNECT`. Everything else, malformed heads
//! included, goes to hyper with the bytes read so far, so its checks and
//! its error answers (400, 414, 431) stay the only ones.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{
    ACCEPT, ACCEPT_ENCODING, ACCEPT_LANGUAGE, AUTHORIZATION, CACHE_CONTROL, CONNECTION,
    CONTENT_LENGTH, CONTENT_TYPE, COOKIE, EXPECT, HOST, ORIGIN, REFERER, TE, TRANSFER_ENCODING,
    UPGRADE, USER_AGENT,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, Version};

/// hyper's bound on a request's fields: a head with more goes to hyper,
/// which answers 431.
const MAX_FIELDS: usize = 100;
/// hyper's bound on a request target: a longer one goes to hyper, which
/// answers 414.
const MAX_TARGET: usize = u16::MAX as usize - 1;

/// What the bytes read so far hold.
// Returned once per request and taken apart at once: boxing the request
// would cost an allocation for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    /// Not a whole head yet.
    Partial,
    /// A request this server serves; its head has left the buffer.
    Served {
        request: Request<()>,
        /// Whether the client lets the connection stay open after it.
        keep_alive: bool,
    },
    /// Anything else: hyper takes the connection, buffer and all.
    HandOver,
}

/// Read a request head from the front of `buf`.
pub fn parse(buf: &mut BytesMut) -> Parsed {
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_FIELDS];
    let mut parsed = httparse::Request::new(&mut []);
    let length = match httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut parsed,
        buf,
        &mut fields,
    ) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::HandOver,
    };
    if parsed.version != Some(1) {
        // HTTP/1.0: keep-alive by request, close-delimited answers.
        return Parsed::HandOver;
    }
    let Some(Ok(method)) = parsed.method.map(|m| Method::from_bytes(m.as_bytes())) else {
        return Parsed::HandOver;
    };
    if method == Method::CONNECT {
        return Parsed::HandOver;
    }
    // Where the target and each field lie, noted before the head leaves
    // the buffer: the values become slices of it, without copies.
    let base = buf.as_ptr() as usize;
    let Some(target) = parsed
        .path
        .filter(|path| path.len() <= MAX_TARGET)
        .map(|path| span(base, path.as_bytes()))
    else {
        return Parsed::HandOver;
    };
    let mut spans = [(0usize, 0usize, 0usize, 0usize); MAX_FIELDS];
    let count = parsed.headers.len();
    for (slot, field) in spans.iter_mut().zip(parsed.headers.iter()) {
        let (name, name_length) = span(base, field.name.as_bytes());
        let (value, value_length) = span(base, field.value);
        *slot = (name, name_length, value, value_length);
    }
    let head: Bytes = buf.split_to(length).freeze();
    let Ok(uri) = Uri::from_maybe_shared(head.slice(target.0..target.0 + target.1)) else {
        return hand_back(buf, head);
    };
    let mut headers = HeaderMap::with_capacity(count);
    let mut keep_alive = true;
    for &(name, name_length, value, value_length) in &spans[..count] {
        let Ok(name) = field_name(&head[name..name + name_length]) else {
            return hand_back(buf, head);
        };
        if name == CONTENT_LENGTH
            || name == TRANSFER_ENCODING
            || name == EXPECT
            || name == UPGRADE
            || name == TE
        {
            return hand_back(buf, head);
        }
        let Ok(value) = HeaderValue::from_maybe_shared(head.slice(value..value + value_length))
        else {
            return hand_back(buf, head);
        };
        if name == CONNECTION && has_token(value.as_bytes(), b"close") {
            keep_alive = false;
        }
        headers.append(name, value);
    }
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    Parsed::Served {
        request,
        keep_alive,
    }
}

/// Where `part` lies in the buffer starting at `base`: offset and length.
fn span(base: usize, part: &[u8]) -> (usize, usize) {
    (part.as_ptr() as usize - base, part.len())
}

/// Put a head taken out of `buf` back in front of it, for hyper.
fn hand_back(buf: &mut BytesMut, head: Bytes) -> Parsed {
    let mut whole = BytesMut::with_capacity(head.len() + buf.len());
    whole.extend_from_slice(&head);
    whole.extend_from_slice(buf);
    *buf = whole;
    Parsed::HandOver
}

/// Whether a comma-separated `list` holds `token`, in any case.
fn has_token(list: &[u8], token: &[u8]) -> bool {
    list.split(|&b| b == b',')
        .any(|item| item.trim_ascii().eq_ignore_ascii_case(token))
}

/// The custom names requests carry most, built once.
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// A request field's name, as `HeaderName::from_bytes` would give it.
///
/// `from_bytes` lowercases the name into a scratch buffer and looks it up
/// among the standard names, and allocates for any other: about 200
/// instructions a field, with eight or more fields a request. The common
/// names, in the spellings clients send, are matched whole.
fn field_name(bytes: &[u8]) -> Result<HeaderName, http::header::InvalidHeaderName> {
    let known = match bytes {
        b"Host" | b"host" => HOST,
        b"User-Agent" | b"user-agent" => USER_AGENT,
        b"Accept" | b"accept" => ACCEPT,
        b"Accept-Encoding" | b"accept-encoding" => ACCEPT_ENCODING,
        b"Accept-Language" | b"accept-language" => ACCEPT_LANGUAGE,
        b"Authorization" | b"authorization" => AUTHORIZATION,
        b"Cookie" | b"cookie" => COOKIE,
        b"Connection" | b"connection" => CONNECTION,
        b"Cache-Control" | b"cache-control" => CACHE_CONTROL,
        b"Content-Type" | b"content-type" => CONTENT_TYPE,
        b"Origin" | b"origin" => ORIGIN,
        b"Referer" | b"referer" => REFERER,
        b"X-Forwarded-For" | b"x-forwarded-for" => X_FORWARDED_FOR.clone(),
        b"X-Request-Id" | b"X-Request-ID" | b"x-request-id" => X_REQUEST_ID.clone(),
        b"X-Api-Key" | b"X-API-Key" | b"x-api-key" => X_API_KEY.clone(),
        _ => return HeaderName::from_bytes(bytes),
    };
    Ok(known)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> (Parsed, BytesMut) {
        let mut buf = BytesMut::from(text.as_bytes());
        (parse(&mut buf), buf)
    }

    #[test]
    fn a_bodiless_request_is_served_and_leaves_the_next_one_in_the_buffer() {
        let (result, rest) = parsed(
            "GET /a/b?c=d HTTP/1.1\r\nHost: example.test\r\nX-Custom: 1\r\nX-Custom: 2\r\n\r\nGET /next",
        );
        let Parsed::Served {
            request,
            keep_alive,
        } = result
        else {
            panic!("served");
        };
        assert!(keep_alive);
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.uri(), "/a/b?c=d");
        assert_eq!(request.headers()[HOST], "example.test");
        assert_eq!(request.headers().get_all("x-custom").iter().count(), 2);
        assert_eq!(&rest[..], b"GET /next");
    }

    #[test]
    fn connection_close_among_other_tokens_ends_keep_alive() {
        let (result, _) = parsed("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n");
        assert!(matches!(
            result,
            Parsed::Served {
                keep_alive: false,
                ..
            }
        ));
    }

    #[test]
    fn a_head_cut_short_waits_for_more() {
        assert!(matches!(
            parsed("GET / HTTP/1.1\r\nHost: a\r\n").0,
            Parsed::Partial
        ));
    }

    #[test]
    fn bodies_expectations_upgrades_old_versions_and_bad_heads_go_to_hyper_untouched() {
        for text in [
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n",
            "GET / HTTP/1.0\r\nHost: a\r\n\r\n",
            "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "GET /<x> HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Name: a\r\n\r\n",
        ] {
            let (result, rest) = parsed(text);
            assert!(matches!(result, Parsed::HandOver), "{text:?}");
            assert_eq!(&rest[..], text.as_bytes(), "{text:?}");
        }
    }

    #[test]
    fn every_known_spelling_gives_the_name_the_generic_parse_gives() {
        for name in [
            "Host",
            "host",
            "User-Agent",
            "Accept",
            "Accept-Encoding",
            "accept-language",
            "Authorization",
            "Cookie",
            "Connection",
            "Cache-Control",
            "Content-Type",
            "Origin",
            "Referer",
            "X-Forwarded-For",
            "x-forwarded-for",
            "X-Request-ID",
            "X-Request-Id",
            "X-API-Key",
            "x-api-key",
            "X-Other",
        ] {
            assert_eq!(
                field_name(name.as_bytes()).expect(name),
                HeaderName::from_bytes(name.as_bytes()).expect(name),
                "{name}"
            );
        }
    }
}
