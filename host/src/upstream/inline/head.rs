//! The request head written to a target, and the response head read
//! back: its status, fields, framing and whether the connection may carry
//! another request. The framing rules are hyper's client's (RFC 9112
//! §6.3), so a response means the same whichever path it came by.

use std::mem::MaybeUninit;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, Method, Request, StatusCode, Version};
use smallvec::SmallVec;

use super::field_name::field_name;
use super::framing::{Chunk, Framing};
use super::passed::PassedFields;
use crate::{field_list, forwarding};

/// The most fields a response head may carry (hyper's default).
pub const MAX_FIELDS: usize = 100;

/// Why a response head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid response head: {0}")]
pub struct HeadError(pub &'static str);

/// A complete final response head.
#[derive(Debug)]
pub struct Head {
    pub status: StatusCode,
    pub version: Version,
    /// The fields, unless they pass on as they came.
    pub headers: HeaderMap,
    /// The fields passed on as they came, when they can be.
    pub passed: Option<Box<PassedFields>>,
    pub framing: Framing,
    /// Whether the connection may carry another request after the body.
    pub reusable: bool,
    /// The reason phrase, when not the status's usual one: passed on to
    /// the client, as hyper's client does.
    pub reason: Option<hyper::ext::ReasonPhrase>,
}

/// What the front of the read buffer holds.
#[derive(Debug)]
pub enum Parsed {
    /// A final head, removed from the buffer.
    Final(Head),
    /// An informational (1xx) head, removed from the buffer: skipped, as
    /// hyper's client does.
    Informational,
    /// Not yet a whole head.
    Partial,
}

/// `request`'s head as HTTP/1.1 bytes. The request has no body, so no
/// framing field is added; the pipeline has removed hop-by-hop fields.
pub fn encode(request: &Request<impl Sized>, out: &mut Vec<u8>) {
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let fields: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    out.reserve(request.method().as_str().len() + target.len() + fields + 16);
    out.extend_from_slice(request.method().as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in request.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Where a field's name and value lie in a head: (start, length) each.
type FieldSpan = ((usize, usize), (usize, usize));

/// Parse the head at the front of `buf`, answering `method`.
pub fn parse(buf: &mut BytesMut, method: &Method) -> Result<Parsed, HeadError> {
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_FIELDS];
    let mut response = httparse::Response::new(&mut []);
    let length = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut fields,
    ) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError("too many fields")),
        Err(_) => return Err(HeadError("malformed")),
    };
    let code = response.code.unwrap_or(0);
    let status = StatusCode::from_u16(code).map_err(|_| HeadError("invalid status"))?;
    let version = match response.version {
        Some(1) => Version::HTTP_11,
        _ => Version::HTTP_10,
    };
    if (100..200).contains(&code) && code != 101 {
        buf.advance(length);
        return Ok(Parsed::Informational);
    }
    if code == 101 {
        // No request on this path asks for an upgrade.
        return Err(HeadError("unrequested protocol switch"));
    }
    let reason = response
        .reason
        .filter(|reason| Some(*reason) != status.canonical_reason())
        .and_then(|reason| hyper::ext::ReasonPhrase::try_from(reason.as_bytes().to_vec()).ok());
    // Field values become slices of the head's bytes, without copies:
    // where each field lies is noted before the head leaves the buffer.
    let base = buf.as_ptr() as usize;
    // Kept on the stack for the fields most responses have.
    let spans: SmallVec<[FieldSpan; 16]> = response
        .headers
        .iter()
        .map(|field| {
            let name = field.name.as_ptr() as usize - base;
            let value = field.value.as_ptr() as usize - base;
            ((name, field.name.len()), (value, field.value.len()))
        })
        .collect();
    let head_bytes: Bytes = buf.split_to(length).freeze();
    let mut facts = Facts::default();
    // Fields not passed on as they came: hop-by-hop ones and
    // `Content-Length` (one bit each; a head has at most 100 fields).
    let mut held_back: u128 = 0;
    for (index, &((name, name_length), (value, value_length))) in spans.iter().enumerate() {
        // Within the head, as httparse found them.
        let (Some(name), Some(value)) = (
            head_bytes.get(name..name + name_length),
            head_bytes.get(value..value + value_length),
        ) else {
            return Err(HeadError("invalid field"));
        };
        if facts.note(name, value) == Role::HeldBack {
            held_back |= 1 << index;
        }
    }
    let framing = framing(status, version, method, &facts)?;
    // `close` wins over `keep-alive` (RFC 9112 §9.6).
    let keeps_alive = !facts.close && (version == Version::HTTP_11 || facts.keep_alive);
    // A bodiless answer that announces a coding, or a 204 that announces
    // a length, may be followed by body bytes after all: the next
    // response read on the connection could be them.
    let may_trail_a_body = matches!(framing, Framing::Done)
        && (facts.coded || (status == StatusCode::NO_CONTENT && facts.has_length));
    // A length and a transfer coding both: the coding wins, and the
    // connection must close after (RFC 9112 §6.3).
    let must_close = (facts.coded && facts.has_length)
        || may_trail_a_body
        || matches!(framing, Framing::UntilClose);
    let reusable = keeps_alive && !must_close;
    // Answers that may announce a body they do not have, and conflicting
    // framing, keep the map, and the writer's rules for them.
    let keeps_map = facts.needs_map
        || (facts.coded && facts.has_length)
        || matches!(status.as_u16(), 204 | 304)
        || method == Method::HEAD;
    let length = facts.length.and_then(Result::ok);
    let passed = if keeps_map {
        Err(head_bytes)
    } else {
        PassedFields::new(head_bytes, length)
    };
    let (headers, passed) = match passed {
        Ok(mut passed) => {
            for (index, &((name, name_length), (value, value_length))) in spans.iter().enumerate() {
                if held_back & (1 << index) == 0 {
                    passed.push((name, name + name_length), (value, value + value_length));
                }
            }
            (HeaderMap::new(), Some(passed))
        }
        Err(head_bytes) => (header_map(&head_bytes, &spans)?, None),
    };
    Ok(Parsed::Final(Head {
        status,
        version,
        headers,
        passed,
        framing,
        reusable,
        reason,
    }))
}

/// Every field of the head, in a map.
fn header_map(head: &Bytes, spans: &[FieldSpan]) -> Result<HeaderMap, HeadError> {
    let mut headers = HeaderMap::with_capacity(spans.len());
    for &((name, name_length), (value, value_length)) in spans {
        let name = head
            .get(name..name + name_length)
            .and_then(|name| field_name(name).ok())
            .ok_or(HeadError("invalid field name"))?;
        // Within the head, as httparse found it: `slice` cannot panic.
        let value = crate::field_value::field_value(head.slice(value..value + value_length))
            .map_err(|_| HeadError("invalid field value"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// What a field is to the response's framing and to passing it on.
#[derive(PartialEq, Eq)]
enum Role {
    /// Passed on as it came.
    Passed,
    /// Read here (framing, connection), not passed on.
    HeldBack,
}

/// What the fields say about framing and keep-alive, gathered as they are
/// read: looking each up afterwards would take their names again.
#[derive(Default)]
struct Facts {
    /// Any `Content-Length` field.
    has_length: bool,
    /// Their common value, or why there is none.
    length: Option<Result<u64, HeadError>>,
    /// Any `Transfer-Encoding` field.
    coded: bool,
    /// Whether the last coding of the last such field is `chunked`.
    chunked: bool,
    /// `Connection: close`.
    close: bool,
    /// `Connection: keep-alive`.
    keep_alive: bool,
    /// Whether the fields need the map: a hop-by-hop field other than
    /// `Keep-Alive`, `Transfer-Encoding` and a `Connection` naming only
    /// `close` or `keep-alive` (those are held back from passed fields).
    needs_map: bool,
}

impl Facts {
    /// Note the field `name` (as the head spells it) with `value`.
    fn note(&mut self, name: &[u8], value: &[u8]) -> Role {
        if name.len() == CONTENT_LENGTH.as_str().len()
            && name.eq_ignore_ascii_case(CONTENT_LENGTH.as_str().as_bytes())
        {
            self.has_length = true;
            if !matches!(self.length, Some(Err(_))) {
                self.length = Some(merge_length(self.length.and_then(Result::ok), value));
            }
            return Role::HeldBack;
        }
        let Some(hop_by_hop) = forwarding::hop_by_hop_name(name) else {
            return Role::Passed;
        };
        // Only a value of visible text is read, as before.
        let text = value
            .iter()
            .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b));
        if *hop_by_hop == TRANSFER_ENCODING {
            self.coded = true;
            self.chunked = text && field_list::ends_with_token(value, b"chunked");
        } else if *hop_by_hop == CONNECTION {
            if text {
                self.close |= field_list::has_token(value, b"close");
                self.keep_alive |= field_list::has_token(value, b"keep-alive");
            }
            // A listed name is removed from the map's fields.
            self.needs_map |= !(text && names_only_keep_alive_or_close(value));
        } else if hop_by_hop.as_str() != "keep-alive" {
            self.needs_map = true;
        }
        Role::HeldBack
    }
}

/// Whether a `Connection` value names nothing but `close` and
/// `keep-alive`, as most do.
fn names_only_keep_alive_or_close(value: &[u8]) -> bool {
    value.split(|&b| b == b',').all(|item| {
        let item = item.trim_ascii();
        item.is_empty()
            || item.eq_ignore_ascii_case(b"close")
            || item.eq_ignore_ascii_case(b"keep-alive")
    })
}

/// `value`'s length items, which must all equal each other and `seen`.
fn merge_length(mut seen: Option<u64>, value: &[u8]) -> Result<u64, HeadError> {
    for item in value.split(|&b| b == b',') {
        let length =
            field_list::decimal(item.trim_ascii()).ok_or(HeadError("invalid content-length"))?;
        if seen.is_some_and(|seen| seen != length) {
            return Err(HeadError("conflicting content-length"));
        }
        seen = Some(length);
    }
    seen.ok_or(HeadError("invalid content-length"))
}

/// How the body is delimited.
fn framing(
    status: StatusCode,
    version: Version,
    method: &Method,
    facts: &Facts,
) -> Result<Framing, HeadError> {
    if matches!(status.as_u16(), 204 | 304) || method == Method::HEAD {
        return Ok(Framing::Done);
    }
    if facts.coded {
        if version == Version::HTTP_10 {
            return Err(HeadError("transfer-encoding in HTTP/1.0"));
        }
        return Ok(if facts.chunked {
            Framing::Chunked(Chunk::Size, 0)
        } else {
            Framing::UntilClose
        });
    }
    match facts.length {
        Some(Err(e)) => Err(e),
        Some(Ok(0)) => Ok(Framing::Done),
        Some(Ok(length)) => Ok(Framing::Length(length)),
        None => Ok(Framing::UntilClose),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str, method: Method) -> Result<Parsed, HeadError> {
        let mut buf = BytesMut::from(text.as_bytes());
        parse(&mut buf, &method)
    }

    fn head(text: &str) -> Head {
        match parse_text(text, Method::GET) {
            Ok(Parsed::Final(head)) => head,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn a_request_head_is_written_as_http_1_1() {
        let request = Request::builder()
            .method("GET")
            .uri("/a?b=1")
            .header("host", "example")
            .header("x-one", "1")
            .body(())
            .expect("request");
        let mut out = Vec::new();
        encode(&request, &mut out);
        assert_eq!(
            out,
            b"GET /a?b=1 HTTP/1.1\r\nhost: example\r\nx-one: 1\r\n\r\n"
        );
    }

    #[test]
    fn framing_follows_the_rules_of_rfc_9112() {
        let length = head("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n");
        assert!(matches!(length.framing, Framing::Length(5)));
        assert!(length.reusable);
        let chunked = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n");
        assert!(matches!(chunked.framing, Framing::Chunked(..)));
        let both =
            head("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n");
        assert!(matches!(both.framing, Framing::Chunked(..)));
        assert!(!both.reusable, "a message with both closes its connection");
        let unknown_coding = head("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n");
        assert!(matches!(unknown_coding.framing, Framing::UntilClose));
        let neither = head("HTTP/1.1 200 OK\r\n\r\n");
        assert!(matches!(neither.framing, Framing::UntilClose));
        assert!(!neither.reusable);
        let no_content = head("HTTP/1.1 204 No Content\r\ncontent-length: 9\r\n\r\n");
        assert!(matches!(no_content.framing, Framing::Done));
        let same_twice =
            head("HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 3, 3\r\n\r\n");
        assert!(matches!(same_twice.framing, Framing::Length(3)));
        match parse_text("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", Method::HEAD) {
            Ok(Parsed::Final(head)) => assert!(matches!(head.framing, Framing::Done)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection_field() {
        assert!(
            !head("HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: Close\r\n\r\n").reusable
        );
        assert!(!head("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n").reusable);
        assert!(
            head("HTTP/1.0 200 OK\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n").reusable
        );
        let both = "HTTP/1.0 200 OK\r\ncontent-length: 0\r\nconnection: keep-alive, close\r\n\r\n";
        assert!(!head(both).reusable, "close wins");
    }

    #[test]
    fn a_bodiless_answer_announcing_a_body_closes_its_connection() {
        assert!(!head("HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n").reusable);
        assert!(!head("HTTP/1.1 304 Not Modified\r\ntransfer-encoding: chunked\r\n\r\n").reusable);
        // A 304's length describes the representation: no body follows.
        assert!(head("HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\n\r\n").reusable);
    }

    #[test]
    fn ambiguous_or_malformed_heads_are_refused() {
        for text in [
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 5, 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999999\r\n\r\n",
            "HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
        ] {
            assert!(parse_text(text, Method::GET).is_err(), "{text:?}");
        }
    }

    #[test]
    fn informational_heads_are_skipped_and_values_are_kept() {
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nx-a: 1\r\nx-a: 2\r\ncontent-length: 2\r\n\r\nhi"[..],
        );
        assert!(matches!(
            parse(&mut buf, &Method::GET),
            Ok(Parsed::Informational)
        ));
        let Ok(Parsed::Final(head)) = parse(&mut buf, &Method::GET) else {
            panic!("no final head");
        };
        let passed = head.passed.expect("passed");
        let values: Vec<_> = passed.iter().collect();
        assert_eq!(values, [(&b"x-a"[..], &b"1"[..]), (&b"x-a"[..], &b"2"[..])]);
        assert_eq!(&buf[..], b"hi");
    }

    /// The names of the fields `text`'s head passes on, or `None` when it
    /// keeps them in the map.
    fn passed_names(text: &str, method: Method) -> Option<Vec<String>> {
        let Ok(Parsed::Final(head)) = parse_text(text, method) else {
            panic!("{text:?}: no final head");
        };
        let passed = head.passed?;
        assert!(head.headers.is_empty(), "fields in both places");
        Some(
            passed
                .iter()
                .map(|(name, _)| String::from_utf8_lossy(name).into_owned())
                .collect(),
        )
    }

    #[test]
    fn fields_pass_on_without_hop_by_hop_ones_and_the_length_as_a_number() {
        let text = "HTTP/1.1 200 OK\r\nServer: origin\r\nConnection: Keep-Alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2, 2\r\nETag: \"x\"\r\nDate: Mon, 30 Nov 2026 15:00:00 GMT\r\n\r\nhi";
        assert_eq!(
            passed_names(text, Method::GET).expect("passed"),
            ["Server", "ETag", "Date"]
        );
        let Ok(Parsed::Final(head)) = parse_text(text, Method::GET) else {
            panic!("no head");
        };
        let passed = head.passed.expect("passed");
        assert_eq!(passed.length(), Some(2));
        assert!(passed.has_date());
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n";
        assert_eq!(passed_names(chunked, Method::GET).expect("passed"), ["X-A"]);
        let closing = "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(passed_names(closing, Method::GET), Some(vec![]));
    }

    #[test]
    fn fields_stay_in_the_map_where_the_map_has_work_to_do() {
        for text in [
            // A name `Connection` lists must be removed.
            "HTTP/1.1 200 OK\r\nConnection: x-hop\r\nx-hop: 1\r\ncontent-length: 0\r\n\r\n",
            // Other hop-by-hop fields.
            "HTTP/1.1 200 OK\r\nUpgrade: h2c\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTrailer: x-sum\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nProxy-Authenticate: Basic\r\ncontent-length: 0\r\n\r\n",
            // A length and a coding both.
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n",
            // Bodiless answers, whose lengths the writer treats apart.
            "HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n",
            "HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\n\r\n",
        ] {
            assert_eq!(passed_names(text, Method::GET), None, "{text:?}");
        }
        let text = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n";
        assert_eq!(passed_names(text, Method::HEAD), None);
        let Ok(Parsed::Final(head)) = parse_text(text, Method::HEAD) else {
            panic!("no head");
        };
        assert_eq!(head.headers[CONTENT_LENGTH], "5");
    }

    #[test]
    fn only_an_unusual_reason_phrase_is_kept() {
        assert!(
            head("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .reason
                .is_none()
        );
        let teapot = head("HTTP/1.1 200 Fine Indeed\r\ncontent-length: 0\r\n\r\n");
        assert_eq!(
            teapot.reason.as_ref().map(|r| r.as_bytes()),
            Some(&b"Fine Indeed"[..])
        );
    }

    #[test]
    fn a_partial_head_asks_for_more() {
        assert!(matches!(
            parse_text("HTTP/1.1 200 OK\r\ncontent-le", Method::GET),
            Ok(Parsed::Partial)
        ));
    }
}
