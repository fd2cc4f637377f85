//! Writing a response head, and how its body is framed: as hyper's server
//! does, so a client sees the same answer on either path.

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRAILER, TRANSFER_ENCODING};
use http::response::Parts;
use http::{HeaderMap, HeaderName, Method, StatusCode};
use hyper::ext::ReasonPhrase;

use super::date;
use crate::field_list::{decimal, ends_with_token, has_token};
use crate::upstream::PassedFields;

/// How the body follows the head.
#[derive(Debug, PartialEq, Eq)]
pub enum Framing {
    /// Exactly this many bytes (none for `HEAD`, 204 and 304).
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
}

/// The written head's consequences.
#[derive(Debug)]
pub struct Encoded {
    pub framing: Framing,
    /// Whether the connection closes after this response.
    pub last: bool,
}

/// Why a head cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("response with an informational status")]
    Informational,
    #[error("response with an invalid or conflicting length")]
    BadLength,
}

/// Write the head of a response (`parts`: its status, fields and reason
/// phrase) with the fields `passed` on from an upstream's head (those in
/// the response's map replace passed ones of the same name) to a request
/// made with `method`; the body announces `body_length` if it knows it.
/// `keep_alive` false closes the connection after, saying so.
pub fn encode(
    method: &Method,
    parts: &Parts,
    passed: Option<&PassedFields>,
    body_length: Option<u64>,
    keep_alive: bool,
    out: &mut Vec<u8>,
) -> Result<Encoded, EncodeError> {
    let status = parts.status;
    let reason = parts.extensions.get::<ReasonPhrase>();
    let headers = &parts.headers;
    if status.is_informational() {
        return Err(EncodeError::Informational);
    }
    let head_request = method == Method::HEAD;
    let bodiless_status = matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED);

    if status == StatusCode::OK && reason.is_none() {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(status.as_str().as_bytes());
        out.push(b' ');
        match reason {
            // An upstream's own reason phrase, passed on as sent.
            Some(reason) => out.extend_from_slice(reason.as_bytes()),
            None => out.extend_from_slice(status.canonical_reason().unwrap_or("<none>").as_bytes()),
        }
        out.extend_from_slice(b"\r\n");
    }

    let mut fields = Fields {
        head_request,
        bodiless_status,
        may_chunk: !head_request && !bodiless_status,
        body_length,
        framing: None,
        last: !keep_alive,
        wrote_date: false,
        wrote_connection: false,
        announced_length: None,
    };
    if let Some(passed) = passed {
        fields.passed(passed, headers, out)?;
    }
    for (name, value) in headers {
        fields.field(name, value.as_bytes(), out)?;
    }
    Ok(fields.finish(out))
}

/// What the fields written so far say, and what they make of the rest.
struct Fields {
    head_request: bool,
    bodiless_status: bool,
    may_chunk: bool,
    body_length: Option<u64>,
    framing: Option<Framing>,
    last: bool,
    wrote_date: bool,
    wrote_connection: bool,
    announced_length: Option<u64>,
}

impl Fields {
    /// Write the fields an upstream's head passes on, but those `headers`
    /// replace. They hold no hop-by-hop field and their length is a
    /// number, so only a `Date` among them matters here.
    fn passed(
        &mut self,
        passed: &PassedFields,
        headers: &HeaderMap,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        // The gateway sets a field or two: a look at each key, no hashing.
        let replaced = |name: &[u8]| {
            headers.keys().any(|key| {
                key.as_str().len() == name.len()
                    && key.as_str().as_bytes().eq_ignore_ascii_case(name)
            })
        };
        if let Some(length) = passed.length()
            && !headers.keys().any(|key| key == CONTENT_LENGTH)
            && !self.skips_length()
            && self.announce_length(length)?
        {
            write_length(out, length);
        }
        for (name, value) in passed.iter() {
            if !replaced(name) {
                write_field(out, name, value);
            }
        }
        self.wrote_date |= passed.has_date();
        Ok(())
    }

    /// Whether a `Content-Length` field is left out: no body may follow
    /// a 204 or 304, and an empty body has its own length, written in
    /// [`Fields::finish`] (a `HEAD` answer keeps the length of what a
    /// `GET` would have had).
    fn skips_length(&self) -> bool {
        !self.head_request && (self.bodiless_status || self.body_length == Some(0))
    }

    /// Note a `Content-Length` of `length`; whether it is to be written
    /// (not when another said the same).
    fn announce_length(&mut self, length: u64) -> Result<bool, EncodeError> {
        match self.announced_length {
            Some(seen) if seen != length => Err(EncodeError::BadLength),
            Some(_) => Ok(false),
            None if self.framing.is_some() => Err(EncodeError::BadLength),
            None => {
                self.announced_length = Some(length);
                Ok(true)
            }
        }
    }

    /// Write one field of the response's map, as hyper would.
    fn field(
        &mut self,
        name: &HeaderName,
        value: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        if name == CONTENT_LENGTH {
            if self.skips_length() {
                return Ok(());
            }
            let length = decimal(value).ok_or(EncodeError::BadLength)?;
            if !self.announce_length(length)? {
                return Ok(());
            }
        } else if name == TRANSFER_ENCODING || name == TRAILER {
            if !self.may_chunk {
                return Ok(());
            }
            if name == TRANSFER_ENCODING {
                if self.announced_length.is_some() {
                    return Err(EncodeError::BadLength);
                }
                self.framing = Some(Framing::Chunked);
                if !ends_with_token(value, b"chunked") {
                    write_field(out, name.as_str().as_bytes(), value);
                    out.truncate(out.len() - 2);
                    out.extend_from_slice(b", chunked\r\n");
                    return Ok(());
                }
            }
        } else if name == CONNECTION {
            self.wrote_connection = true;
            if has_token(value, b"close") {
                self.last = true;
            }
        } else if name == DATE {
            self.wrote_date = true;
        }
        write_field(out, name.as_str().as_bytes(), value);
        Ok(())
    }

    /// The framing fields the others left out, `Connection` and `Date`,
    /// and the head's end.
    fn finish(self, out: &mut Vec<u8>) -> Encoded {
        let Fields {
            head_request,
            may_chunk,
            body_length,
            framing,
            last,
            wrote_date,
            wrote_connection,
            announced_length,
            ..
        } = self;
        let framing = match (framing, announced_length) {
            (Some(Framing::Chunked), _) => Framing::Chunked,
            (_, Some(length)) if !head_request && may_chunk => Framing::Length(length),
            (_, Some(_)) => Framing::Length(0),
            (_, None) if head_request => {
                // The length a GET would have, when the body knows it.
                if let Some(length) = body_length.filter(|length| *length > 0) {
                    write_length(out, length);
                }
                Framing::Length(0)
            }
            (_, None) if !may_chunk => Framing::Length(0),
            (_, None) => match body_length {
                Some(length) => {
                    write_length(out, length);
                    Framing::Length(length)
                }
                None => {
                    out.extend_from_slice(b"transfer-encoding: chunked\r\n");
                    Framing::Chunked
                }
            },
        };
        if last && !wrote_connection {
            out.extend_from_slice(b"connection: close\r\n");
        }
        if !wrote_date {
            out.extend_from_slice(b"date: ");
            date::extend(out);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        Encoded { framing, last }
    }
}

fn write_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn write_length(out: &mut Vec<u8>, length: u64) {
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(itoa::Buffer::new().format(length).as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn head(
        method: Method,
        status: u16,
        fields: &[(&str, &str)],
        body_length: Option<u64>,
        keep_alive: bool,
    ) -> (String, Encoded) {
        let mut headers = HeaderMap::new();
        for (name, value) in fields {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        let mut out = Vec::new();
        let encoded = encode(
            &method,
            &parts(status, headers),
            None,
            body_length,
            keep_alive,
            &mut out,
        )
        .expect("encodes");
        (String::from_utf8(out).expect("text"), encoded)
    }

    fn parts(status: u16, headers: HeaderMap) -> Parts {
        let (mut parts, ()) = http::Response::new(()).into_parts();
        parts.status = StatusCode::from_u16(status).expect("status");
        parts.headers = headers;
        parts
    }

    #[test]
    fn a_known_length_is_announced_and_a_date_added() {
        let (text, encoded) = head(
            Method::GET,
            200,
            &[("content-type", "text/plain")],
            Some(5),
            true,
        );
        assert!(text.starts_with(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\ndate: "
        ));
        assert!(text.ends_with(" GMT\r\n\r\n"), "{text}");
        assert_eq!(encoded.framing, Framing::Length(5));
        assert!(!encoded.last);
    }

    #[test]
    fn an_unknown_length_is_chunked_and_a_given_length_kept() {
        let (text, encoded) = head(Method::GET, 404, &[], None, true);
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n"));
        assert_eq!(encoded.framing, Framing::Chunked);
        let (text, encoded) = head(Method::GET, 200, &[("content-length", "7")], None, true);
        assert!(text.contains("content-length: 7\r\n"));
        assert_eq!(encoded.framing, Framing::Length(7));
    }

    #[test]
    fn head_answers_keep_their_length_and_send_no_body() {
        let (text, encoded) = head(Method::HEAD, 200, &[("content-length", "42")], None, true);
        assert!(text.contains("content-length: 42\r\n"));
        assert_eq!(encoded.framing, Framing::Length(0));
        let (text, encoded) = head(Method::HEAD, 200, &[], None, true);
        assert!(!text.contains("transfer-encoding"));
        assert_eq!(encoded.framing, Framing::Length(0));
        let (text, encoded) = head(Method::HEAD, 200, &[], Some(9), true);
        assert!(text.contains("content-length: 9\r\n"));
        assert_eq!(encoded.framing, Framing::Length(0));
    }

    #[test]
    fn no_content_has_neither_length_nor_coding() {
        let (text, encoded) = head(Method::GET, 204, &[], Some(0), true);
        assert!(!text.contains("content-length") && !text.contains("transfer-encoding"));
        assert_eq!(encoded.framing, Framing::Length(0));
    }

    #[test]
    fn closing_says_so_once() {
        let (text, encoded) = head(Method::GET, 200, &[], Some(0), false);
        assert!(text.contains("connection: close\r\n"));
        assert!(encoded.last);
        let (text, encoded) = head(Method::GET, 200, &[("connection", "close")], Some(0), true);
        assert_eq!(text.matches("connection").count(), 1);
        assert!(encoded.last);
    }

    #[test]
    fn passed_fields_go_as_spelled_and_give_way_to_the_map() {
        let head = "HTTP/1.1 200 OK\r\nServer: origin\r\nX-Request-Id: up\r\nDate: Mon, 30 Nov 2026 15:00:00 GMT\r\nContent-Length: 5\r\n\r\n";
        let passed = PassedFields::from_lines(
            head,
            Some(5),
            &[
                ("Server", "origin"),
                ("X-Request-Id", "up"),
                ("Date", "Mon, 30 Nov 2026 15:00:00 GMT"),
            ],
        );
        let encoded = |headers: HeaderMap, body_length| {
            let mut out = Vec::new();
            let encoded = encode(
                &Method::GET,
                &parts(200, headers),
                Some(&passed),
                body_length,
                true,
                &mut out,
            )
            .expect("encodes");
            (String::from_utf8(out).expect("text"), encoded.framing)
        };
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("gateway"));
        let (text, framing) = encoded(headers, Some(5));
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nServer: origin\r\nDate: Mon, 30 Nov 2026 15:00:00 GMT\r\nx-request-id: gateway\r\n\r\n"
        );
        assert_eq!(framing, Framing::Length(5));
        // The map's length wins; it must agree with nothing passed.
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("3"));
        let (text, framing) = encoded(headers, Some(3));
        assert_eq!(text.matches("content-length").count(), 1, "{text}");
        assert!(text.contains("content-length: 3\r\n"), "{text}");
        assert_eq!(framing, Framing::Length(3));
    }

    #[test]
    fn conflicting_lengths_are_refused() {
        let mut headers = HeaderMap::new();
        headers.append(CONTENT_LENGTH, HeaderValue::from_static("1"));
        headers.append(CONTENT_LENGTH, HeaderValue::from_static("2"));
        let result = encode(
            &Method::GET,
            &parts(200, headers),
            None,
            None,
            true,
            &mut Vec::new(),
        );
        assert!(matches!(result, Err(EncodeError::BadLength)));
    }
}
