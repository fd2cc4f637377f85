//! Decoding transformations. They follow ModSecurity's lenient rules: an
//! invalid escape is kept as written, a code point above one byte keeps its
//! low byte, and full-width ASCII (U+FF01..U+FF5E) becomes plain ASCII, so an
//! attacker gains nothing by encoding a payload one more way.

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    Some(hex_value(high)? << 4 | hex_value(low)?)
}

/// The byte a `\uHHHH`-style escape stands for: its low byte, lifted by 0x20
/// when the escape is full-width ASCII (`ff01`..`ff5e`).
fn wide_escape_byte(digits: &[u8]) -> Option<u8> {
    let [a, b, c, d] = *digits else { return None };
    let low = hex_pair(c, d)?;
    hex_pair(a, b)?;
    let full_width = a.eq_ignore_ascii_case(&b'f') && b.eq_ignore_ascii_case(&b'f');
    Some(if full_width && low > 0 && low < 0x5f {
        low + 0x20
    } else {
        low
    })
}

/// `%HH` (and with `unicode`, `%uHHHH`) decoding; `+` is a space.
pub fn url(input: &[u8], unicode: bool) -> Option<Vec<u8>> {
    if !input.iter().any(|&b| b == b'%' || b == b'+') {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' if unicode
                && input
                    .get(i + 1)
                    .is_some_and(|b| b.eq_ignore_ascii_case(&b'u'))
                && input.len() >= i + 6 =>
            {
                match wide_escape_byte(&input[i + 2..i + 6]) {
                    Some(byte) => {
                        out.push(byte);
                        i += 6;
                    }
                    None => {
                        out.extend_from_slice(&input[i..i + 2]);
                        i += 2;
                    }
                }
            }
            b'%' if input.len() >= i + 3 => match hex_pair(input[i + 1], input[i + 2]) {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    Some(out)
}

/// `&#DDD;`, `&#xHH;` and the entities quot, amp, lt, gt, nbsp; the
/// semicolon is optional, as browsers accept.
pub fn html_entities(input: &[u8]) -> Option<Vec<u8>> {
    memchr::memchr(b'&', input)?;
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'&'
            && let Some((byte, used)) = entity(&input[i + 1..])
        {
            out.push(byte);
            i += 1 + used;
            continue;
        }
        out.push(input[i]);
        i += 1;
    }
    Some(out)
}

/// The byte an entity body (after `&`) stands for and how many bytes it used.
fn entity(rest: &[u8]) -> Option<(u8, usize)> {
    let with_semicolon = |byte: u8, used: usize| {
        let used = if rest.get(used) == Some(&b';') {
            used + 1
        } else {
            used
        };
        Some((byte, used))
    };
    if rest.first() == Some(&b'#') {
        let (radix, start) = match rest.get(1) {
            Some(b'x' | b'X') => (16, 2),
            _ => (10, 1),
        };
        let digits = rest[start..]
            .iter()
            .take_while(|b| {
                if radix == 16 {
                    b.is_ascii_hexdigit()
                } else {
                    b.is_ascii_digit()
                }
            })
            .count();
        if digits == 0 {
            return None;
        }
        let mut value: u32 = 0;
        for &digit in &rest[start..start + digits] {
            value = value
                .wrapping_mul(radix)
                .wrapping_add(u32::from(hex_value(digit)?));
        }
        return with_semicolon(value as u8, start + digits);
    }
    const NAMED: [(&[u8], u8); 5] = [
        (b"quot", b'"'),
        (b"amp", b'&'),
        (b"lt", b'<'),
        (b"gt", b'>'),
        (b"nbsp", 0xa0),
    ];
    NAMED.iter().find_map(|(name, byte)| {
        let candidate = rest.get(..name.len())?;
        candidate
            .eq_ignore_ascii_case(name)
            .then(|| with_semicolon(*byte, name.len()))?
    })
}

/// JavaScript escapes: `\uHHHH`, `\xHH`, octal, `\n`-style and `\c` for any c.
pub fn js(input: &[u8]) -> Option<Vec<u8>> {
    memchr::memchr(b'\\', input)?;
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' || i + 1 >= input.len() {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let next = input[i + 1];
        if (next == b'u' || next == b'U')
            && let Some(byte) = input.get(i + 2..i + 6).and_then(wide_escape_byte)
        {
            out.push(byte);
            i += 6;
        } else if (next == b'x' || next == b'X')
            && let Some(byte) = input
                .get(i + 2..i + 4)
                .and_then(|pair| hex_pair(pair[0], pair[1]))
        {
            out.push(byte);
            i += 4;
        } else if let Some((byte, used)) = octal(&input[i + 1..]) {
            out.push(byte);
            i += 1 + used;
        } else {
            out.push(control_escape(next).unwrap_or(next));
            i += 2;
        }
    }
    Some(out)
}

fn control_escape(letter: u8) -> Option<u8> {
    Some(match letter {
        b'a' => 0x07,
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'v' => 0x0b,
        _ => return None,
    })
}

/// Up to three octal digits worth at most 0o377.
fn octal(rest: &[u8]) -> Option<(u8, usize)> {
    let mut value: u32 = 0;
    let mut used = 0;
    while used < 3 && rest.get(used).is_some_and(|b| (b'0'..=b'7').contains(b)) {
        let next = value * 8 + u32::from(rest[used] - b'0');
        if next > 0o377 {
            break;
        }
        value = next;
        used += 1;
    }
    (used > 0).then_some((value as u8, used))
}

/// CSS escapes: `\` and one to six hex digits (one following white space is
/// part of the escape), `\` before a newline is a continuation, `\c` is c.
pub fn css(input: &[u8]) -> Option<Vec<u8>> {
    memchr::memchr(b'\\', input)?;
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        i += 1;
        if i >= input.len() {
            break;
        }
        let digits = input[i..]
            .iter()
            .take(6)
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if digits > 0 {
            let hex = &input[i..i + digits];
            let mut byte = match digits {
                1 => hex_value(hex[0]).unwrap_or(0),
                _ => hex_pair(hex[digits - 2], hex[digits - 1]).unwrap_or(0),
            };
            let leading_zeros_ok = match digits {
                4 => true,
                5 => hex[0] == b'0',
                6 => hex[0] == b'0' && hex[1] == b'0',
                _ => false,
            };
            let full_width = leading_zeros_ok
                && hex[digits - 4].eq_ignore_ascii_case(&b'f')
                && hex[digits - 3].eq_ignore_ascii_case(&b'f');
            if full_width && byte > 0 && byte < 0x5f {
                byte += 0x20;
            }
            out.push(byte);
            i += digits;
            if input.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
                i += 1;
            }
        } else if input[i] == b'\n' {
            i += 1;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Some(out)
}

/// ANSI C escapes: `\n`-style, `\\ \? \' \"`, `\xHH` and octal.
pub fn escape_sequences(input: &[u8]) -> Option<Vec<u8>> {
    memchr::memchr(b'\\', input)?;
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' || i + 1 >= input.len() {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let next = input[i + 1];
        if let Some(byte) = control_escape(next) {
            out.push(byte);
            i += 2;
        } else if matches!(next, b'\\' | b'?' | b'\'' | b'"') {
            out.push(next);
            i += 2;
        } else if (next == b'x' || next == b'X')
            && let Some(byte) = input
                .get(i + 2..i + 4)
                .and_then(|pair| hex_pair(pair[0], pair[1]))
        {
            out.push(byte);
            i += 4;
        } else if let Some((byte, used)) = octal(&input[i + 1..]) {
            out.push(byte);
            i += 1 + used;
        } else {
            out.extend_from_slice(&input[i..i + 2]);
            i += 2;
        }
    }
    Some(out)
}

/// Standard base64; stops at the first byte that is not part of it.
pub fn base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in input {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => break,
        };
        buffer = buffer << 6 | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// Multi-byte UTF-8 sequences become `%uHHHH`; ASCII and invalid bytes stay.
pub fn utf8_to_unicode(input: &[u8]) -> Option<Vec<u8>> {
    if input.is_ascii() {
        return None;
    }
    let mut out = Vec::with_capacity(input.len() * 2);
    let mut rest = input;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                push_escaped(&mut out, text);
                break;
            }
            Err(error) => {
                let (valid, after) = rest.split_at(error.valid_up_to());
                push_escaped(&mut out, std::str::from_utf8(valid).unwrap_or_default());
                let bad = error.error_len().unwrap_or(after.len());
                out.extend_from_slice(&after[..bad]);
                rest = &after[bad..];
            }
        }
    }
    Some(out)
}

fn push_escaped(out: &mut Vec<u8>, text: &str) {
    use std::io::Write;
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c as u8);
        } else {
            let _ = write!(out, "%u{:04x}", u32::from(c));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_decoding_keeps_bad_escapes_and_maps_full_width() {
        assert_eq!(url(b"a%27+b%zz%", false).expect("changed"), b"a' b%zz%");
        assert_eq!(
            url(b"%uff1cscript%u0027%u12", true).expect("changed"),
            b"<script'%u12"
        );
    }

    #[test]
    fn html_entities_with_and_without_semicolons() {
        assert_eq!(
            html_entities(b"&lt;a&#x27&#39;&QUOT;&bogus;").expect("changed"),
            b"<a''\"&bogus;"
        );
    }

    #[test]
    fn js_and_css_escapes() {
        assert_eq!(
            js(b"\\x3cs\\u003e\\101\\n\\q").expect("changed"),
            b"<s>A\nq"
        );
        assert_eq!(
            css(b"\\3c scr\\69 pt\\\n\\\"").expect("changed"),
            b"<script\""
        );
    }

    #[test]
    fn base64_stops_at_the_first_foreign_byte() {
        assert_eq!(base64(b"aGVsbG8=!!"), b"hello");
    }

    #[test]
    fn utf8_sequences_become_percent_u() {
        assert_eq!(
            utf8_to_unicode("a\u{e9}\u{ff1c}".as_bytes()).expect("changed"),
            b"a%u00e9%uff1c"
        );
    }
}
