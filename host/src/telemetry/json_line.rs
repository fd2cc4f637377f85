//! A JSON log line built as bytes. Every request writes one, so this avoids
//! what `write!` and `String` cost per piece (the formatting machinery,
//! UTF-8 encoding of each pushed character, checks of digits already known
//! to be ASCII): values are appended as byte slices.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// A line under construction.
pub struct JsonLine(Vec<u8>);

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `00` to `99`, back to back.
const TWO_DIGITS: &[u8; 200] = b"0001020304050607080910111213141516171819\
                                 2021222324252627282930313233343536373839\
                                 4041424344454647484950515253545556575859\
                                 6061626364656667686970717273747576777879\
                                 8081828384858687888990919293949596979899";

impl JsonLine {
    /// An empty line with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self(Vec::with_capacity(capacity))
    }

    /// Text that needs no escaping (keys, punctuation, fixed names).
    pub fn raw(&mut self, text: &str) {
        self.0.extend_from_slice(text.as_bytes());
    }

    /// A JSON string, escaped; control characters as `\u00XX`, so a client
    /// cannot forge lines. The bytes escaped are all ASCII, so copying the
    /// runs between them never splits a character.
    pub fn string(&mut self, value: &str) {
        let bytes = value.as_bytes();
        self.0.push(b'"');
        // Most values need no escape: check the whole value without
        // branching per byte, then copy it at once.
        if !bytes.iter().fold(false, |any, b| any | needs_escape(*b)) {
            self.0.extend_from_slice(bytes);
        } else {
            let mut clean_from = 0;
            for (i, byte) in bytes.iter().copied().enumerate() {
                if !needs_escape(byte) {
                    continue;
                }
                self.0.extend_from_slice(&bytes[clean_from..i]);
                match byte {
                    b'"' => self.0.extend_from_slice(b"\\\""),
                    b'\\' => self.0.extend_from_slice(b"\\\\"),
                    _ => self.0.extend_from_slice(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[usize::from(byte >> 4)],
                        HEX[usize::from(byte & 0xf)],
                    ]),
                }
                clean_from = i + 1;
            }
            self.0.extend_from_slice(&bytes[clean_from..]);
        }
        self.0.push(b'"');
    }

    /// A string, or `null`.
    pub fn opt(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.string(value),
            None => self.raw("null"),
        }
    }

    /// A number in decimal.
    pub fn number(&mut self, mut value: u64) {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        self.0.extend_from_slice(&digits[start..]);
    }

    /// A duration in whole microseconds.
    pub fn micros(&mut self, duration: Duration) {
        self.number(u64::try_from(duration.as_micros()).unwrap_or(u64::MAX));
    }

    /// An address as text (without quotes), IPv4-mapped IPv6 as IPv4.
    pub fn ip(&mut self, ip: IpAddr) {
        crate::ip_text::push_ip(&mut self.0, ip.to_canonical());
    }

    /// RFC 3339, UTC, milliseconds (without quotes).
    pub fn time(&mut self, time: SystemTime) {
        let since = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = since.as_secs();
        let (days, rest) = (secs / 86_400, secs % 86_400);
        let (year, month, day) = crate::calendar::civil_from_days(i64::try_from(days).unwrap_or(0));
        let year = u64::try_from(year).unwrap_or(0);
        self.two(year / 100);
        self.two(year % 100);
        self.0.push(b'-');
        self.two(u64::from(month));
        self.0.push(b'-');
        self.two(u64::from(day));
        self.0.push(b'T');
        self.two(rest / 3600);
        self.0.push(b':');
        self.two(rest % 3600 / 60);
        self.0.push(b':');
        self.two(rest % 60);
        self.0.push(b'.');
        let millis = u64::from(since.subsec_millis());
        self.0.push(b'0' + (millis / 100) as u8);
        self.two(millis % 100);
        self.0.push(b'Z');
    }

    /// `value` (below 100) in two digits.
    fn two(&mut self, value: u64) {
        let at = usize::try_from(value % 100).unwrap_or(0) * 2;
        self.0.extend_from_slice(&TWO_DIGITS[at..at + 2]);
    }

    /// The bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The text. Everything appended was `str` or ASCII, so it is UTF-8.
    pub fn into_string(self) -> String {
        String::from_utf8(self.0)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\' || byte == 0x7f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_exactly_what_json_needs() {
        let mut line = JsonLine::with_capacity(64);
        line.string("a\"b\\c\u{1}d\u{7f}é\tz");
        line.raw(" ");
        line.string("plain é");
        let text = line.into_string();
        assert_eq!(text, r#""a\"b\\c\u0001d\u007fé\u0009z" "plain é""#);
        let first: String =
            serde_json::from_str(text.split(' ').next().expect("first")).expect("json");
        assert_eq!(first, "a\"b\\c\u{1}d\u{7f}é\tz");
    }

    #[test]
    fn numbers_times_and_addresses() {
        let mut line = JsonLine::with_capacity(64);
        for n in [0, 7, 10, u64::MAX] {
            line.number(n);
            line.raw(" ");
        }
        line.time(SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_337_000_023));
        line.raw(" ");
        line.ip("::ffff:10.0.0.1".parse().expect("ip"));
        line.raw(" ");
        line.ip("2001:db8::1".parse().expect("ip"));
        assert_eq!(
            line.into_string(),
            "0 7 10 18446744073709551615 2025-11-28T13:36:40.023Z 10.0.0.1 2001:db8::1"
        );
    }
}
