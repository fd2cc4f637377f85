//! `a=1&b=2` as in query strings and form bodies.

use crate::transform::Transform;

/// Name/value pairs, each decoded (`%HH`, `+`); a pair without `=` has an
/// empty value; empty pairs are skipped.
pub fn parse(input: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    input
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match memchr::memchr(b'=', pair) {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            (decode(name), decode(value))
        })
        .collect()
}

fn decode(part: &[u8]) -> Vec<u8> {
    Transform::UrlDecode
        .apply(part)
        .unwrap_or_else(|| part.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_names_and_values() {
        let pairs = parse(b"a=1+2&b%5B%5D=%27&flag&&c=");
        assert_eq!(pairs.len(), 4);
        assert_eq!(pairs[0], (b"a".to_vec(), b"1 2".to_vec()));
        assert_eq!(pairs[1], (b"b[]".to_vec(), b"'".to_vec()));
        assert_eq!(pairs[2], (b"flag".to_vec(), Vec::new()));
    }
}
