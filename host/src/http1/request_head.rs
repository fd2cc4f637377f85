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
use http::{HeaderMap, HeaderName, Method, Request, Uri, Version};

use crate::field_list::has_token;

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

/// Read a request head from the front of `buf`. `scanned` bytes of it
/// are known to hold no complete head (0 for a fresh buffer); it is kept
/// up to date, so a head that trickles in is not searched again from its
/// start at every read.
pub fn parse(buf: &mut BytesMut, scanned: &mut usize) -> Parsed {
    if !has_blank_line(buf, *scanned) {
        *scanned = buf.len();
        return Parsed::Partial;
    }
    *scanned = 0;
    // Parsed as shared bytes, so the target and field values become
    // slices of them without copies.
    let bytes = buf.split().freeze();
    match parse_head(&bytes) {
        Some((request, keep_alive, length)) => {
            // A pipelined request's first bytes go back to the buffer.
            if let Some(rest) = bytes.get(length..)
                && !rest.is_empty()
            {
                buf.extend_from_slice(rest);
            }
            Parsed::Served {
                request,
                keep_alive,
            }
        }
        None => {
            // hyper reads the whole buffer again.
            buf.extend_from_slice(&bytes);
            Parsed::HandOver
        }
    }
}

/// Whether `buf` holds an empty line ending a head, looking from about
/// `from` on. httparse accepts bare LF line ends, so `\n\n` counts.
fn has_blank_line(buf: &[u8], from: usize) -> bool {
    // Mostly a read ends with the head: no search then.
    if buf.ends_with(b"\r\n\r\n") {
        return true;
    }
    let Some(tail) = buf.get(from.saturating_sub(2)..) else {
        return false;
    };
    memchr::memchr_iter(b'\n', tail)
        .any(|at| tail.get(at + 1) == Some(&b'\n') || tail.get(at + 1..at + 3) == Some(b"\r\n"))
}

/// A whole request head from the front of `bytes`, if this server serves
/// it: the request, whether it lets the connection stay open, and the
/// head's length. `None` when a head is not there or is for hyper.
fn parse_head(bytes: &Bytes) -> Option<(Request<()>, bool, usize)> {
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_FIELDS];
    let mut parsed = httparse::Request::new(&mut []);
    let length = match httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut parsed,
        bytes,
        &mut fields,
    ) {
        Ok(httparse::Status::Complete(length)) => length,
        // Partial despite a blank line (one before the request line):
        // hyper waits for the rest.
        Ok(httparse::Status::Partial) | Err(_) => return None,
    };
    if parsed.version != Some(1) {
        // HTTP/1.0: keep-alive by request, close-delimited answers.
        return None;
    }
    let method = Method::from_bytes(parsed.method?.as_bytes()).ok()?;
    if method == Method::CONNECT {
        return None;
    }
    let target = parsed.path.filter(|path| path.len() <= MAX_TARGET)?;
    let uri = Uri::from_maybe_shared(bytes.slice_ref(target.as_bytes())).ok()?;
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    let mut keep_alive = true;
    for field in parsed.headers.iter() {
        let (name, role) = field_name(field.name.as_bytes())?;
        match role {
            Role::Plain => {}
            Role::AnnouncesMore => return None,
            Role::Connection => keep_alive &= !has_token(field.value, b"close"),
        }
        let value = crate::field_value::field_value(bytes.slice_ref(field.value)).ok()?;
        headers.append(name, value);
    }
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    Some((request, keep_alive, length))
}

/// The custom names requests carry most, built once.
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// What a field means for serving here.
#[derive(Debug, PartialEq, Eq)]
enum Role {
    Plain,
    /// A body, an expectation, an upgrade or trailers: hyper's.
    AnnouncesMore,
    /// `Connection`: may ask to close.
    Connection,
}

/// A request field's name, as `HeaderName::from_bytes` would give it, and
/// its role; `None` for an invalid name.
///
/// `from_bytes` lowercases the name into a scratch buffer and looks it up
/// among the standard names, and allocates for any other: about 200
/// instructions a field, with eight or more fields a request. The common
/// names, in the spellings clients send, are matched whole; other names
/// met before on this thread are given again ([`crate::custom_names`]).
fn field_name(bytes: &[u8]) -> Option<(HeaderName, Role)> {
    if let b"Connection" | b"connection" = bytes {
        return Some((CONNECTION, Role::Connection));
    }
    let known = match bytes {
        b"Host" | b"host" => HOST,
        b"User-Agent" | b"user-agent" => USER_AGENT,
        b"Accept" | b"accept" => ACCEPT,
        b"Accept-Encoding" | b"accept-encoding" => ACCEPT_ENCODING,
        b"Accept-Language" | b"accept-language" => ACCEPT_LANGUAGE,
        b"Authorization" | b"authorization" => AUTHORIZATION,
        b"Cookie" | b"cookie" => COOKIE,
        b"Cache-Control" | b"cache-control" => CACHE_CONTROL,
        b"Content-Type" | b"content-type" => CONTENT_TYPE,
        b"Origin" | b"origin" => ORIGIN,
        b"Referer" | b"referer" => REFERER,
        b"X-Forwarded-For" | b"x-forwarded-for" => X_FORWARDED_FOR.clone(),
        b"X-Request-Id" | b"X-Request-ID" | b"x-request-id" => X_REQUEST_ID.clone(),
        b"X-Api-Key" | b"X-API-Key" | b"x-api-key" => X_API_KEY.clone(),
        _ => {
            let name = crate::custom_names::header_name(bytes).ok()?;
            let role = role(&name);
            return Some((name, role));
        }
    };
    Some((known, Role::Plain))
}

fn role(name: &HeaderName) -> Role {
    if *name == CONNECTION {
        Role::Connection
    } else if *name == CONTENT_LENGTH
        || *name == TRANSFER_ENCODING
        || *name == EXPECT
        || *name == UPGRADE
        || *name == TE
    {
        Role::AnnouncesMore
    } else {
        Role::Plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> (Parsed, BytesMut) {
        let mut buf = BytesMut::from(text.as_bytes());
        (parse(&mut buf, &mut 0), buf)
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
    fn a_head_that_trickles_in_is_found_where_its_end_arrives() {
        let mut buf = BytesMut::new();
        let mut scanned = 0;
        let text = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        for (i, byte) in text.iter().enumerate() {
            buf.extend_from_slice(&[*byte]);
            let result = parse(&mut buf, &mut scanned);
            if i + 1 < text.len() {
                assert!(matches!(result, Parsed::Partial), "at {i}");
            } else {
                assert!(matches!(result, Parsed::Served { .. }));
                assert!(buf.is_empty());
            }
        }
        // Bare LF line ends, as httparse reads them.
        let (result, _) = parsed("GET / HTTP/1.1\nHost: a\n\n");
        assert!(matches!(result, Parsed::Served { .. }));
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
                field_name(name.as_bytes()).expect(name).0,
                HeaderName::from_bytes(name.as_bytes()).expect(name),
                "{name}"
            );
        }
    }
}
