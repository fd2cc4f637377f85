//! A field's value as a `HeaderValue`, checked eight bytes at a time.
//!
//! `HeaderValue::from_maybe_shared` checks a value a byte at a time, about
//! five instructions a byte: a bearer token or a cookie costs a thousand
//! instructions or more on every request. Here each eight bytes are
//! checked at once for what most values are made of, visible ASCII and
//! spaces, and a value with anything else (a tab, obs-text, a control
//! byte) goes to `from_maybe_shared`, which decides. So the result is
//! always what `from_maybe_shared` gives.
//!
//! One of four modules allowed `unsafe` (with `mapped_copy`,
//! `allocator` and `plugin::artifact_cache`), for the one call that skips
//! the byte-by-byte check after this module's own has passed.
#![allow(unsafe_code)]

use bytes::Bytes;
use http::HeaderValue;
use http::header::InvalidHeaderValue;

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);
const SPACES: u64 = u64::from_ne_bytes([b' '; 8]);
const DELETES: u64 = u64::from_ne_bytes([0x7f; 8]);

/// `bytes` as a header value, as `HeaderValue::from_maybe_shared` makes
/// it (sharing `bytes`), or the same error.
pub fn field_value(bytes: Bytes) -> Result<HeaderValue, InvalidHeaderValue> {
    if !is_visible_ascii(&bytes) {
        return HeaderValue::from_maybe_shared(bytes);
    }
    // SAFETY: every byte is a space or visible ASCII (0x20..=0x7e): valid
    // UTF-8, as the function requires, and a valid header value, which is
    // what `from_maybe_shared` would have checked.
    Ok(unsafe { HeaderValue::from_maybe_shared_unchecked(bytes) })
}

/// Whether every byte is in 0x20..=0x7e. The bytes are taken eight at a
/// time; the last eight overlap the words before them, and a value
/// shorter than eight is padded with spaces, so no byte is taken alone.
fn is_visible_ascii(bytes: &[u8]) -> bool {
    let Some(last) = bytes.last_chunk::<8>() else {
        let mut padded = [b' '; 8];
        if let Some(to) = padded.get_mut(..bytes.len()) {
            to.copy_from_slice(bytes);
        }
        return outside_visible_ascii(u64::from_ne_bytes(padded)) == 0;
    };
    let (words, _) = bytes.as_chunks::<8>();
    let outside = words.iter().fold(0, |outside, word| {
        outside | outside_visible_ascii(u64::from_ne_bytes(*word))
    });
    (outside | outside_visible_ascii(u64::from_ne_bytes(*last))) == 0
}

/// Not zero when a byte of `word` is not in 0x20..=0x7e (one with its
/// high bit set, one below a space, or DEL).
fn outside_visible_ascii(word: u64) -> u64 {
    // A byte below 0x20 sets its own high bit when 0x20 is taken from it;
    // the borrow can spoil only the bytes above one that is below 0x20,
    // so the test of the whole word is exact. The same for DEL, found as
    // the zero bytes of `word ^ DELETES`.
    let below_space = word.wrapping_sub(SPACES) & !word;
    let deletes = word ^ DELETES;
    let is_delete = deletes.wrapping_sub(ONES) & !deletes;
    (word | below_space | is_delete) & HIGH_BITS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_http(bytes: &[u8]) {
        let ours = field_value(Bytes::copy_from_slice(bytes));
        let theirs = HeaderValue::from_maybe_shared(Bytes::copy_from_slice(bytes));
        match (ours, theirs) {
            (Ok(ours), Ok(theirs)) => assert_eq!(ours.as_bytes(), theirs.as_bytes(), "{bytes:?}"),
            (Err(_), Err(_)) => {}
            (ours, theirs) => panic!("{bytes:?}: ours {ours:?}, http's {theirs:?}"),
        }
    }

    #[test]
    fn every_byte_at_every_place_of_short_values_is_judged_as_http_judges_it() {
        // Up to three words and a part: the padded, the whole and the
        // overlapping last word all meet every byte everywhere.
        for length in 1..=25 {
            for at in 0..length {
                for byte in 0..=255u8 {
                    let mut value = vec![b'a'; length];
                    value[at] = byte;
                    same_as_http(&value);
                }
            }
        }
        same_as_http(b"");
    }

    #[test]
    fn random_values_are_judged_as_http_judges_them() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20_000 {
            let length = rng.usize(0..40);
            let value: Vec<u8> = (0..length)
                .map(|_| match rng.u8(0..10) {
                    0 => rng.u8(..),
                    1 => [b'\t', 0x7f, 0x1f, 0x80, 0xff, 0][rng.usize(0..6)],
                    _ => rng.u8(0x20..0x7f),
                })
                .collect();
            same_as_http(&value);
        }
    }

    #[test]
    fn a_checked_value_shares_the_bytes_it_was_given() {
        let head = Bytes::from_static(b"text/plain; charset=utf-8");
        let value = field_value(head.clone()).expect("valid");
        assert_eq!(value.as_bytes().as_ptr(), head.as_ptr());
    }
}
