//! The request (and later response) facts a transaction inspects, parsed
//! into the collections rules read.

use crate::body::{self, multipart, urlencoded, xml};
use crate::rule::BodyProcessor;

/// What the gateway knows before the body: given by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    /// The request target as sent (`/path?query`, or absolute-form).
    pub target: String,
    /// `HTTP/1.1`, `HTTP/2` ...
    pub protocol: String,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub remote_addr: String,
    pub unique_id: String,
}

pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Most arguments (and multipart header lines) a body may carry, as
/// ModSecurity's recommended `SecArgumentsLimit`.
pub const MAX_ARGUMENTS: usize = 1000;

/// Collections derived from the request, filled as its parts arrive.
#[derive(Debug, Default)]
pub(crate) struct RequestData {
    pub head: RequestHead,
    pub uri: Vec<u8>,
    pub filename: Vec<u8>,
    pub basename: Vec<u8>,
    pub query: Vec<u8>,
    pub line: Vec<u8>,
    pub args_get: Pairs,
    pub args_post: Pairs,
    pub cookies: Pairs,
    pub files: Pairs,
    pub file_sizes: Pairs,
    pub files_combined_size: usize,
    pub part_headers: Pairs,
    pub xml: Option<xml::XmlText>,
    pub body: Vec<u8>,
    pub body_error: bool,
    pub response_status: Vec<u8>,
    pub response_protocol: Vec<u8>,
    pub response_headers: Pairs,
    pub response_body: Vec<u8>,
}

impl RequestData {
    pub fn new(head: RequestHead) -> Self {
        let target = head.target.as_bytes();
        // REQUEST_URI never holds the scheme and authority of an
        // absolute-form target; REQUEST_URI_RAW keeps them.
        let uri = strip_origin(target).to_vec();
        let (path, query) = match memchr::memchr(b'?', &uri) {
            Some(at) => (uri[..at].to_vec(), uri[at + 1..].to_vec()),
            None => (uri.clone(), Vec::new()),
        };
        // As ModSecurity 3 does, the file name is the path percent-decoded.
        let path = percent_decode(&path);
        let basename = path
            .rsplit(|&b| b == b'/')
            .next()
            .unwrap_or_default()
            .to_vec();
        let mut line = Vec::with_capacity(target.len() + 16);
        line.extend_from_slice(head.method.as_bytes());
        line.push(b' ');
        line.extend_from_slice(target);
        line.push(b' ');
        line.extend_from_slice(head.protocol.as_bytes());
        let cookies = head
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(b"cookie"))
            .flat_map(|(_, value)| parse_cookies(value))
            .collect();
        RequestData {
            args_get: urlencoded::parse(&query),
            uri,
            filename: path,
            basename,
            query,
            line,
            cookies,
            head,
            ..RequestData::default()
        }
    }

    pub fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.head
            .headers
            .iter()
            .find(|(own, _)| own.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_slice())
    }

    /// Runs the body processor over `body`; a body it cannot parse sets
    /// REQBODY_ERROR and leaves the arguments it found so far.
    pub fn read_body(&mut self, body: &[u8], processor: Option<BodyProcessor>) {
        self.body = body.to_vec();
        let Some(processor) = processor else { return };
        if body.is_empty() {
            return;
        }
        let outcome = match processor {
            BodyProcessor::UrlEncoded => {
                self.args_post = urlencoded::parse(body);
                Ok(())
            }
            BodyProcessor::Json => body::json::flatten(body).map(|args| self.args_post = args),
            BodyProcessor::Xml => xml::parse(body).map(|text| self.xml = Some(text)),
            BodyProcessor::Multipart => {
                let boundary = self
                    .header(b"content-type")
                    .and_then(multipart::boundary)
                    .unwrap_or_default();
                multipart::parse(body, &boundary).map(|parts| {
                    self.files_combined_size = parts.file_sizes.iter().map(|(_, size)| size).sum();
                    self.file_sizes = parts
                        .file_sizes
                        .into_iter()
                        .map(|(name, size)| (name, size.to_string().into_bytes()))
                        .collect();
                    self.args_post = parts.args;
                    self.files = parts.files;
                    self.part_headers = parts.part_headers;
                })
            }
        };
        // Past the limit the body is refused (REQBODY_ERROR) and only the
        // first arguments are kept: every ARGS rule walks all of them.
        let too_many = self.args_post.len() + self.part_headers.len() > MAX_ARGUMENTS;
        self.args_post.truncate(MAX_ARGUMENTS);
        self.part_headers.truncate(MAX_ARGUMENTS);
        self.body_error = outcome.is_err() || too_many;
    }

    pub fn args_combined_size(&self) -> usize {
        self.args_get
            .iter()
            .chain(&self.args_post)
            .map(|(name, value)| name.len() + value.len())
            .sum()
    }
}

/// `%HH` decoding only: in a path, `+` is a plus.
fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if input[i] == b'%'
            && let (Some(high), Some(low)) = (
                input.get(i + 1).and_then(|b| hex(*b)),
                input.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            out.push((high * 16 + low) as u8);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

fn strip_origin(target: &[u8]) -> &[u8] {
    let Some(scheme_end) = memchr::memmem::find(target, b"://") else {
        return target;
    };
    if target[..scheme_end]
        .iter()
        .any(|b| !b.is_ascii_alphanumeric())
    {
        return target;
    }
    let after = &target[scheme_end + 3..];
    match memchr::memchr(b'/', after) {
        Some(path) => &after[path..],
        None => b"/",
    }
}

/// `a=1; b=2`: names and values as sent (cookies are not URL-encoded by rule).
fn parse_cookies(header: &[u8]) -> Pairs {
    header
        .split(|&b| b == b';')
        .map(<[u8]>::trim_ascii)
        .filter(|pair| !pair.is_empty())
        .map(|pair| match memchr::memchr(b'=', pair) {
            Some(at) => (
                pair[..at].trim_ascii().to_vec(),
                pair[at + 1..].trim_ascii().to_vec(),
            ),
            None => (pair.to_vec(), Vec::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(target: &str, headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: "GET".into(),
            target: target.into(),
            protocol: "HTTP/1.1".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect(),
            ..RequestHead::default()
        }
    }

    #[test]
    fn a_body_with_too_many_arguments_is_an_error() {
        let mut data = RequestData::new(head("/", &[]));
        let body = "a=1&".repeat(MAX_ARGUMENTS + 1);
        data.read_body(body.as_bytes(), Some(BodyProcessor::UrlEncoded));
        assert!(data.body_error);
        assert_eq!(data.args_post.len(), MAX_ARGUMENTS);
    }

    #[test]
    fn splits_the_target_and_reads_cookies() {
        let data = RequestData::new(head(
            "http://h/a/b%2ephp?x=1&y=%27",
            &[("Cookie", "s=1; t = two ;flag")],
        ));
        assert_eq!(data.uri, b"/a/b%2ephp?x=1&y=%27");
        assert_eq!(data.filename, b"/a/b.php");
        assert_eq!(data.basename, b"b.php");
        assert_eq!(data.args_get[1].1, b"'");
        assert_eq!(data.cookies.len(), 3);
        assert_eq!(data.cookies[1], (b"t".to_vec(), b"two".to_vec()));
        assert_eq!(data.line, b"GET http://h/a/b%2ephp?x=1&y=%27 HTTP/1.1");
    }
}
