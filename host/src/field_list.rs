//! Comma-separated field values (`Connection`, `Transfer-Encoding`), read
//! without splitting them into owned strings.

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
}
