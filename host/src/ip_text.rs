//! IP addresses as text, written without `core::fmt`: every request writes
//! its client's address into `X-Forwarded-For` (and, with access logs on,
//! its log line), rate limits keyed by client use it, and plugins ask for
//! it as a string; `Display` cost about 1,400 instructions an address.

use std::io::Write as _;
use std::net::IpAddr;

/// `ip` as `Display` writes it.
pub fn ip_string(ip: IpAddr) -> String {
    let mut text = Vec::with_capacity(15);
    push_ip(&mut text, ip);
    // Only ASCII digits, dots, colons and hex letters are written.
    String::from_utf8(text).unwrap_or_else(|_| ip.to_string())
}

/// Append `ip` to `out` as `Display` writes it.
pub fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_octet(out, octet);
            }
        }
        // Rare here, and its compression rules are `Display`'s to keep.
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

fn push_octet(out: &mut Vec<u8>, octet: u8) {
    if octet >= 100 {
        out.push(b'0' + octet / 100);
    }
    if octet >= 10 {
        out.push(b'0' + octet / 10 % 10);
    }
    out.push(b'0' + octet % 10);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn every_octet_matches_display() {
        for octet in 0..=255u8 {
            let ip = IpAddr::V4(Ipv4Addr::new(octet, 0, 10, octet));
            assert_eq!(ip_string(ip), ip.to_string());
        }
    }

    #[test]
    fn v6_matches_display_and_appends() {
        for text in [
            "::1",
            "2001:db8::8a2e:370:7334",
            "::ffff:192.0.2.1",
            "fe80::",
        ] {
            let ip: IpAddr = text.parse().expect("ip");
            assert_eq!(ip_string(ip), ip.to_string());
        }
        let mut out = b"a, ".to_vec();
        push_ip(&mut out, IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(out, b"a, ::1");
    }
}
