//! Percent-encoding (RFC 3986) of URL components, in one place: signed
//! upload URLs, block-list keys in admin paths, query names for log
//! redaction and account names for threat detection all read `%XX` the
//! same way.

/// `text` with every byte but unreserved ones (`A-Z a-z 0-9 - . _ ~`)
/// written `%XX`.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `%XX` decoded (a `%` not followed by two hex digits stays as it is);
/// bytes that are not UTF-8 become U+FFFD.
pub fn decode(text: &str) -> String {
    decode_with(text, false)
}

/// A query component as applications read it (form encoding): `+` is a
/// space, `%XX` decoded.
pub fn decode_query(text: &str) -> String {
    decode_with(text, true)
}

fn decode_with(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(if plus_is_space && bytes[i] == b'+' {
            b' '
        } else {
            bytes[i]
        });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_plus_is_a_space_only_in_queries() {
        let text = "image/png; charset=x+y é";
        assert_eq!(decode(&encode(text)), text);
        assert_eq!(decode("a+b%2Bc%zz"), "a+b+c%zz");
        assert_eq!(decode_query("a+b%2Bc"), "a b+c");
    }
}
