//! Where an upstream response body ends (RFC 9112 §6.3): a length, chunks,
//! or the connection's close. The decoder takes bytes from the front of
//! the connection's read buffer and never reads past the body's end, so
//! what is left over is visible to whoever decides on reuse.

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;

/// The longest chunk-size line, extensions included.
const MAX_CHUNK_LINE: usize = 4096;
/// The most trailer bytes a chunked body may end with.
const MAX_TRAILERS: usize = 16 * 1024;
/// The most trailer fields (hyper's bound).
const MAX_TRAILER_FIELDS: usize = 100;
/// The most chunk-extension bytes in one body (hyper's bound): each line
/// is bounded, this bounds their sum.
const MAX_EXTENSIONS: usize = 16 * 1024;

/// How the body is delimited, and how far through it the decoder is.
#[derive(Debug)]
pub enum Framing {
    /// This many bytes are still to come.
    Length(u64),
    /// Chunked transfer coding, and the chunk-extension bytes seen so far.
    Chunked(Chunk, usize),
    /// Everything until the server closes the connection.
    UntilClose,
    /// The body has ended.
    Done,
}

/// Where in the chunked coding the decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// Before a chunk-size line.
    Size,
    /// Inside a chunk's data, with this many bytes to go.
    Data(u64),
    /// After a chunk's data, before its CRLF.
    DataEnd,
    /// After the last chunk: trailer fields, then an empty line.
    Trailers,
}

/// What the decoder made of the buffered bytes.
#[derive(Debug)]
pub enum Step {
    /// Body bytes.
    Data(Bytes),
    /// The trailer fields of a chunked body; the body has ended.
    Trailers(HeaderMap),
    /// The body has ended.
    End,
    /// More bytes are needed.
    NeedMore,
}

/// The body's framing does not parse: the exchange fails and the
/// connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid chunked body: {0}")]
pub struct FramingError(pub &'static str);

impl Framing {
    /// Decode what `buf` holds; consumed bytes are removed from it.
    pub fn step(&mut self, buf: &mut BytesMut) -> Result<Step, FramingError> {
        match self {
            Framing::Done => Ok(Step::End),
            Framing::Length(0) => {
                *self = Framing::Done;
                Ok(Step::End)
            }
            Framing::Length(left) => {
                if buf.is_empty() {
                    return Ok(Step::NeedMore);
                }
                let take = usize::try_from(*left).map_or(buf.len(), |left| left.min(buf.len()));
                *left -= take as u64;
                Ok(Step::Data(buf.split_to(take).freeze()))
            }
            Framing::UntilClose => {
                if buf.is_empty() {
                    return Ok(Step::NeedMore);
                }
                Ok(Step::Data(buf.split().freeze()))
            }
            Framing::Chunked(chunk, extensions) => {
                let step = chunked_step(chunk, extensions, buf)?;
                if matches!(step, Step::Trailers(_) | Step::End) {
                    *self = Framing::Done;
                }
                Ok(step)
            }
        }
    }

    /// The bytes still to come, when known.
    pub fn remaining(&self) -> Option<u64> {
        match self {
            Framing::Length(left) => Some(*left),
            Framing::Done => Some(0),
            Framing::Chunked(..) | Framing::UntilClose => None,
        }
    }

    /// Whether the server closing the connection now ends the body
    /// cleanly rather than cutting it short.
    pub fn ends_at_close(&self) -> bool {
        matches!(self, Framing::UntilClose | Framing::Done)
    }
}

/// One step of the chunked coding, looping over the framing around the
/// data so that a call returns data, the end, or a need for more bytes.
fn chunked_step(
    chunk: &mut Chunk,
    extensions: &mut usize,
    buf: &mut BytesMut,
) -> Result<Step, FramingError> {
    loop {
        match *chunk {
            Chunk::Size => {
                let Some(line_end) = find_crlf(buf, MAX_CHUNK_LINE)? else {
                    return Ok(Step::NeedMore);
                };
                let (size, extension) = chunk_size(&buf[..line_end])?;
                *extensions += extension;
                if *extensions > MAX_EXTENSIONS {
                    return Err(FramingError("too many chunk-extension bytes"));
                }
                buf.advance(line_end + 2);
                *chunk = if size == 0 {
                    Chunk::Trailers
                } else {
                    Chunk::Data(size)
                };
            }
            Chunk::Data(left) => {
                if buf.is_empty() {
                    return Ok(Step::NeedMore);
                }
                let take = usize::try_from(left).map_or(buf.len(), |left| left.min(buf.len()));
                let rest = left - take as u64;
                *chunk = if rest == 0 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(rest)
                };
                return Ok(Step::Data(buf.split_to(take).freeze()));
            }
            Chunk::DataEnd => {
                if buf.len() < 2 {
                    return Ok(Step::NeedMore);
                }
                if &buf[..2] != b"\r\n" {
                    return Err(FramingError("chunk data not followed by CRLF"));
                }
                buf.advance(2);
                *chunk = Chunk::Size;
            }
            Chunk::Trailers => return trailers(buf),
        }
    }
}

/// The trailer section after the last chunk, up to its empty line.
fn trailers(buf: &mut BytesMut) -> Result<Step, FramingError> {
    if buf.first() == Some(&b'\n') {
        return Err(FramingError("bare LF"));
    }
    if buf.len() < 2 {
        return Ok(Step::NeedMore);
    }
    if buf.starts_with(b"\r\n") {
        buf.advance(2);
        return Ok(Step::End);
    }
    let mut fields = [httparse::EMPTY_HEADER; MAX_TRAILER_FIELDS];
    match httparse::parse_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete((length, fields))) => {
            // httparse takes a bare LF as a line end; the chunk lines
            // above do not, and neither do the trailers.
            if has_bare_lf(&buf[..length]) {
                return Err(FramingError("bare LF"));
            }
            let mut map = HeaderMap::with_capacity(fields.len());
            for field in fields {
                let name = http::HeaderName::from_bytes(field.name.as_bytes())
                    .map_err(|_| FramingError("invalid trailer name"))?;
                let value = http::HeaderValue::from_bytes(field.value)
                    .map_err(|_| FramingError("invalid trailer value"))?;
                map.append(name, value);
            }
            buf.advance(length);
            Ok(Step::Trailers(map))
        }
        Ok(httparse::Status::Partial) if buf.len() <= MAX_TRAILERS => Ok(Step::NeedMore),
        Ok(httparse::Status::Partial) => Err(FramingError("trailers too large")),
        Err(_) => Err(FramingError("invalid trailers")),
    }
}

/// Whether `bytes` holds an LF not preceded by a CR.
fn has_bare_lf(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || bytes[i - 1] != b'\r'))
}

/// Where the CRLF ending the line at the front of `buf` starts, if the
/// line is complete. A bare LF is refused: a lenient reader here and a
/// strict one behind it would disagree on where the body ends.
fn find_crlf(buf: &[u8], max_line: usize) -> Result<Option<usize>, FramingError> {
    let window = &buf[..buf.len().min(max_line + 2)];
    match window.iter().position(|&b| b == b'\n') {
        Some(0) => Err(FramingError("bare LF")),
        Some(lf) if window[lf - 1] == b'\r' => Ok(Some(lf - 1)),
        Some(_) => Err(FramingError("bare LF")),
        None if buf.len() > max_line + 1 => Err(FramingError("chunk-size line too long")),
        None => Ok(None),
    }
}

/// The size of a chunk-size line (`1*HEXDIG [ chunk-ext ]`, without its
/// CRLF), and the length of its extensions, which are otherwise ignored.
fn chunk_size(line: &[u8]) -> Result<(u64, usize), FramingError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(FramingError("no chunk size"));
    }
    let significant = line[..digits].iter().skip_while(|&&b| b == b'0').count();
    if significant > 15 {
        return Err(FramingError("chunk size too large"));
    }
    let mut size = 0u64;
    for &b in &line[..digits] {
        // Hex digits only, checked above: the fallback is never taken.
        size = size * 16 + u64::from(char::from(b).to_digit(16).unwrap_or(0));
    }
    let rest = &line[digits..];
    let ext = rest.trim_ascii_start();
    let clean = ext.is_empty() || ext.starts_with(b";");
    let whitespace_only = rest[..rest.len() - ext.len()]
        .iter()
        .all(|&b| b == b' ' || b == b'\t');
    if !clean || !whitespace_only || rest.iter().any(|&b| b < 0x20 && b != b'\t') {
        return Err(FramingError("invalid chunk extension"));
    }
    Ok((size, rest.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decoded body, its trailers, and the bytes left after it.
    type Decoded = (Vec<u8>, Option<HeaderMap>, Vec<u8>);

    /// Decode `wire` fed one byte at a time.
    fn decode_bytewise(mut framing: Framing, wire: &[u8]) -> Result<Decoded, FramingError> {
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut fed = 0;
        loop {
            match framing.step(&mut buf)? {
                Step::Data(bytes) => body.extend_from_slice(&bytes),
                Step::Trailers(map) => return Ok((body, Some(map), buf.to_vec())),
                Step::End => return Ok((body, None, buf.to_vec())),
                Step::NeedMore => {
                    let Some(&next) = wire.get(fed) else {
                        panic!("ran out of input with {framing:?}");
                    };
                    buf.extend_from_slice(&[next]);
                    fed += 1;
                }
            }
        }
    }

    fn chunked() -> Framing {
        Framing::Chunked(Chunk::Size, 0)
    }

    #[test]
    fn chunks_are_joined_and_what_follows_is_left() {
        let wire = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\nNEXT";
        let (body, trailers, rest) = decode_bytewise(chunked(), wire).expect("decodes");
        assert_eq!(body, b"hello, world");
        assert!(trailers.is_none());
        assert!(rest.is_empty(), "stops at the body's end: {rest:?}");
    }

    #[test]
    fn trailers_are_returned() {
        let wire = b"3\r\nabc\r\n0\r\nx-checksum: 42\r\n\r\n";
        let (body, trailers, _) = decode_bytewise(chunked(), wire).expect("decodes");
        assert_eq!(body, b"abc");
        let trailers = trailers.expect("trailers");
        assert_eq!(trailers["x-checksum"], "42");
    }

    #[test]
    fn a_length_body_stops_at_its_length() {
        let mut framing = Framing::Length(4);
        let mut buf = BytesMut::from(&b"abcdEXTRA"[..]);
        assert!(matches!(framing.step(&mut buf), Ok(Step::Data(d)) if d == "abcd"));
        assert!(matches!(framing.step(&mut buf), Ok(Step::End)));
        assert_eq!(&buf[..], b"EXTRA");
    }

    #[test]
    fn malformed_chunked_bodies_are_refused() {
        for wire in [
            &b"zz\r\n"[..],
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"1234567890abcdef0\r\n",
            b"5 x\r\nhello\r\n",
            b"5;a\x01\r\nhello\r\n",
            b"-5\r\nhello\r\n",
        ] {
            let mut framing = chunked();
            let mut buf = BytesMut::from(wire);
            let outcome = loop {
                match framing.step(&mut buf) {
                    Ok(Step::Data(_)) => continue,
                    other => break other,
                }
            };
            assert!(
                outcome.is_err(),
                "{:?} gave {outcome:?}",
                String::from_utf8_lossy(wire)
            );
        }
    }

    #[test]
    fn leading_zeros_do_not_count_against_the_size() {
        let (body, _, _) =
            decode_bytewise(chunked(), b"00000000000000000005\r\nhello\r\n0\r\n\r\n")
                .expect("decodes");
        assert_eq!(body, b"hello");
    }

    #[test]
    fn bare_lf_in_the_trailers_is_refused() {
        for wire in [&b"0\r\n\n"[..], b"0\r\nx-a: 1\nx-b: 2\r\n\r\n"] {
            let mut framing = chunked();
            let mut buf = BytesMut::from(wire);
            assert!(
                framing.step(&mut buf).is_err(),
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
    }

    #[test]
    fn chunk_extensions_are_bounded_over_the_body() {
        let mut wire = Vec::new();
        for _ in 0..8 {
            wire.extend_from_slice(b"1;");
            wire.extend_from_slice(&[b'x'; 3000]);
            wire.extend_from_slice(b"\r\na\r\n");
        }
        let mut framing = chunked();
        let mut buf = BytesMut::from(&wire[..]);
        let outcome = loop {
            match framing.step(&mut buf) {
                Ok(Step::Data(_)) => continue,
                other => break other,
            }
        };
        assert!(outcome.is_err(), "{outcome:?}");
    }

    #[test]
    fn an_endless_chunk_size_line_is_refused() {
        let mut framing = chunked();
        let mut buf = BytesMut::from(&b"1"[..]);
        buf.extend_from_slice(&[b';'; MAX_CHUNK_LINE + 8]);
        assert!(framing.step(&mut buf).is_err());
    }
}
