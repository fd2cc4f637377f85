//! Field values read without making owned strings of them: comma-separated
//! lists (`Connection`, `Transfer-Encoding`) and lengths.

/// Whether `list` holds `token`, in any case.
pub fn has_token(list: &[u8], token: &[u8]) -> bool {
    list.split(|&b| b == b',')
        .any(|item| item.trim_ascii().eq_ignore_ascii_case(token))
}

/// Whether the last item of `list` is `token`, in any case: a transfer
/// coding list ends with the coding applied last.
pub fn ends_with_token(list: &[u8], token: &[u8]) -> bool {
    list.rsplit(|&b| b == b',')
        .next()
        .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(token))
}

/// The number a `Content-Length` value (or one item of a list of them)
/// writes: decimal digits only, nothing else, within a `u64`.
pub fn decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0u64, |number, &b| {
        let digit = b.checked_sub(b'0').filter(|digit| *digit <= 9)?;
        number.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_in_any_case_and_spacing() {
        assert!(has_token(b"foo, Close", b"close"));
        assert!(has_token(b"close", b"close"));
        assert!(!has_token(b"closed, x", b"close"));
        assert!(ends_with_token(b"gzip, Chunked ", b"chunked"));
        assert!(!ends_with_token(b"chunked, gzip", b"chunked"));
        assert!(!ends_with_token(b"", b"chunked"));
    }

    #[test]
    fn decimal_lengths_are_digits_only_and_fit() {
        assert_eq!(decimal(b"0"), Some(0));
        assert_eq!(decimal(b"007"), Some(7));
        assert_eq!(decimal(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"+5",
            b"5 ",
            b"-1",
            b"1e3",
            b"18446744073709551616",
        ] {
            assert_eq!(decimal(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
