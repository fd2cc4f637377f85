//! A response field's name, the common ones known without a lookup.
//!
//! `HeaderName::from_bytes` lowercases a name byte by byte into a scratch
//! buffer and then looks it up among the standard names: about 120
//! instructions a field, five or more fields a response. Most upstreams
//! write the common names in one of two spellings (`Content-Type` as
//! nginx, Apache and most frameworks do; `content-type` as HTTP/2-minded
//! servers do); those are matched here whole, and other names met before
//! on this thread are given again ([`crate::custom_names`]).

use http::HeaderName;
use http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, DATE,
    ETAG, InvalidHeaderName, LAST_MODIFIED, SERVER, TRANSFER_ENCODING, VARY,
};

/// The name `bytes` spell, as `HeaderName::from_bytes` would give it.
pub fn field_name(bytes: &[u8]) -> Result<HeaderName, InvalidHeaderName> {
    let known = match bytes {
        b"Date" | b"date" => DATE,
        b"Server" | b"server" => SERVER,
        b"Content-Type" | b"content-type" => CONTENT_TYPE,
        b"Content-Length" | b"content-length" => CONTENT_LENGTH,
        b"Connection" | b"connection" => CONNECTION,
        b"Last-Modified" | b"last-modified" => LAST_MODIFIED,
        b"ETag" | b"etag" => ETAG,
        b"Accept-Ranges" | b"accept-ranges" => ACCEPT_RANGES,
        b"Cache-Control" | b"cache-control" => CACHE_CONTROL,
        b"Content-Encoding" | b"content-encoding" => CONTENT_ENCODING,
        b"Transfer-Encoding" | b"transfer-encoding" => TRANSFER_ENCODING,
        b"Vary" | b"vary" => VARY,
        _ => return crate::custom_names::header_name(bytes),
    };
    Ok(known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_gives_the_name_the_generic_parse_gives() {
        let names = [
            "Date",
            "date",
            "DATE",
            "Server",
            "Content-Type",
            "content-type",
            "CONTENT-TYPE",
            "Content-Length",
            "Connection",
            "Last-Modified",
            "ETag",
            "Etag",
            "etag",
            "Accept-Ranges",
            "Cache-Control",
            "Content-Encoding",
            "Transfer-Encoding",
            "transfer-encoding",
            "Vary",
            "X-Upstream",
            "x-upstream",
            "Keep-Alive",
        ];
        for name in names {
            assert_eq!(
                field_name(name.as_bytes()).expect(name),
                HeaderName::from_bytes(name.as_bytes()).expect(name),
                "{name}"
            );
        }
        for bad in ["", "Content Type", "Date:", "caf\u{e9}"] {
            assert!(field_name(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
