//! How a sensitive value is written once masked.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A masking style.
#[derive(Debug, Clone)]
pub enum Style {
    /// Every letter and digit becomes `*`; separators stay, so the shape
    /// of the document does not change.
    Full,
    /// As `Full`, but the last four letters or digits stay readable.
    KeepLast4,
    /// A keyed hash (HMAC-SHA256, first 16 hex digits) in place of the
    /// value: the same value always masks to the same text, so records can
    /// still be correlated, and without the key it cannot be reversed by
    /// trying every card number or SSN.
    Hash(Vec<u8>),
}

impl Style {
    /// The masked form of `value`.
    pub fn apply(&self, value: &str) -> String {
        match self {
            Style::Full => star(value, 0),
            Style::KeepLast4 => star(value, 4),
            Style::Hash(key) => {
                // HMAC accepts keys of any length.
                let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
                    return star(value, 0);
                };
                mac.update(value.as_bytes());
                let digest = mac.finalize().into_bytes();
                format!("hash:{}", hex::encode(&digest[..8]))
            }
        }
    }
}

/// `value` with its letters and digits starred, except the last `keep`.
fn star(value: &str, keep: usize) -> String {
    // Letters and digits of any script: a name in a chosen field is
    // masked whatever its alphabet.
    let total = value.chars().filter(|c| c.is_alphanumeric()).count();
    // A short value keeps nothing: four of six characters is no mask.
    let keep = if total >= keep * 2 { keep } else { 0 };
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if !c.is_alphanumeric() {
                return c;
            }
            seen += 1;
            if seen > total - keep { c } else { '*' }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Style;

    #[test]
    fn styles_keep_shape_last_four_or_a_keyed_hash() {
        assert_eq!(
            Style::Full.apply("4111 1111 1111 1111"),
            "**** **** **** ****"
        );
        assert_eq!(
            Style::KeepLast4.apply("4111-1111-1111-1111"),
            "****-****-****-1111"
        );
        assert_eq!(Style::KeepLast4.apply("12-34"), "**-**");
        assert_eq!(Style::Full.apply("王小明 José"), "*** ****");
        let hash = Style::Hash(b"k".to_vec());
        assert_eq!(hash.apply("123-45-6789"), hash.apply("123-45-6789"));
        assert_ne!(
            hash.apply("123-45-6789"),
            Style::Hash(b"other".to_vec()).apply("123-45-6789")
        );
        assert!(hash.apply("123-45-6789").starts_with("hash:"));
    }
}
