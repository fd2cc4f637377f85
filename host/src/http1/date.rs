//! The `Date` field's value, formatted once a second per thread rather
//! than for every response.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// An IMF-fixdate is always this long: `Sun, 06 Nov 1994 08:49:37 GMT`.
const DATE_LENGTH: usize = 29;

struct Cached {
    second: u64,
    text: [u8; DATE_LENGTH],
}

thread_local! {
    static CACHED: RefCell<Cached> = const {
        RefCell::new(Cached { second: u64::MAX, text: [b' '; DATE_LENGTH] })
    };
}

/// Append the current date to `out`.
pub fn extend(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let second = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    CACHED.with_borrow_mut(|cached| {
        if cached.second != second {
            let text = httpdate::fmt_http_date(now);
            if text.len() == DATE_LENGTH {
                cached.text.copy_from_slice(text.as_bytes());
            }
            cached.second = second;
        }
        out.extend_from_slice(&cached.text);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_parses_back_to_about_now() {
        let mut out = Vec::new();
        extend(&mut out);
        let text = String::from_utf8(out).expect("text");
        let parsed = httpdate::parse_http_date(&text).expect("an HTTP date");
        let skew = SystemTime::now()
            .duration_since(parsed)
            .expect("not in the future");
        assert!(skew.as_secs() <= 2, "{text}");
    }
}
