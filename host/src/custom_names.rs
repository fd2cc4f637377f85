//! Header names built before on this thread, given again instead of built
//! anew.
//!
//! `HeaderName::from_bytes` lowercases a name that is not a standard one
//! into a new allocation: about 300 instructions with the allocation and
//! its free. Clients and upstreams send the same few such names on every
//! message (`x-tenant`, `sec-fetch-mode`, `x-powered-by`), so each thread
//! keeps the latest ones in a small table, where giving one again is a
//! reference count. A name is kept with the spelling it came in, and
//! found again by that spelling (`X-Tenant` and `x-tenant` take turns in
//! one slot). The table is fixed in size and holds only short names: a
//! peer that sends endless new names only misses.

use std::cell::RefCell;

use http::HeaderName;
use http::header::InvalidHeaderName;

/// Slots in each thread's table, one name each.
const SLOTS: usize = 64;
/// Longer names are built every time: they are rare, and a table of long
/// names would hold their bytes.
const MAX_KEPT_LENGTH: usize = 64;

thread_local! {
    static RECENT: RefCell<[Option<Kept>; SLOTS]> =
        const { RefCell::new([const { None }; SLOTS]) };
}

/// A name and the spelling it was last met in.
struct Kept {
    spelled: [u8; MAX_KEPT_LENGTH],
    length: usize,
    name: HeaderName,
}

impl Kept {
    /// Whether `bytes` is the spelling this name was met in: compared
    /// whole, a few instructions, where a comparison blind to case goes
    /// byte by byte at a dozen a byte.
    fn is_spelled(&self, bytes: &[u8]) -> bool {
        self.spelled.get(..self.length) == Some(bytes)
    }
}

/// The name `bytes` spell, as `HeaderName::from_bytes` would give it.
pub fn header_name(bytes: &[u8]) -> Result<HeaderName, InvalidHeaderName> {
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return HeaderName::from_bytes(bytes);
    };
    if bytes.len() > MAX_KEPT_LENGTH {
        return HeaderName::from_bytes(bytes);
    }
    let slot =
        (bytes.len() * 7 + usize::from(first | 0x20) * 3 + usize::from(last | 0x20) * 13) % SLOTS;
    // While the thread's storage is torn down the table is gone: built.
    RECENT
        .try_with(|recent| {
            let mut recent = recent.borrow_mut();
            if let Some(kept) = &recent[slot]
                && kept.is_spelled(bytes)
            {
                return Ok(kept.name.clone());
            }
            let name = HeaderName::from_bytes(bytes)?;
            let mut spelled = [0; MAX_KEPT_LENGTH];
            if let Some(to) = spelled.get_mut(..bytes.len()) {
                to.copy_from_slice(bytes);
            }
            recent[slot] = Some(Kept {
                spelled,
                length: bytes.len(),
                name: name.clone(),
            });
            Ok(name)
        })
        .unwrap_or_else(|_| HeaderName::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_met_again_is_the_same_name_in_any_case() {
        let first = header_name(b"X-Tenant").expect("valid");
        assert_eq!(first.as_str(), "x-tenant");
        assert_eq!(header_name(b"X-Tenant").expect("valid"), first);
        assert_eq!(header_name(b"x-tenant").expect("valid"), first);
        assert_eq!(header_name(b"X-TENANT").expect("valid"), first);
        assert_eq!(header_name(b"X-Tenant").expect("valid"), first);
    }

    #[test]
    fn names_that_share_a_slot_replace_each_other() {
        // Same length, first and last byte: the same slot.
        let one = header_name(b"x-a-z").expect("valid");
        let other = header_name(b"x-b-z").expect("valid");
        assert_eq!(one.as_str(), "x-a-z");
        assert_eq!(other.as_str(), "x-b-z");
        assert_eq!(header_name(b"x-a-z").expect("valid").as_str(), "x-a-z");
    }

    #[test]
    fn invalid_and_long_names_are_as_from_bytes_gives_them() {
        assert!(header_name(b"").is_err());
        assert!(header_name(b"bad name").is_err());
        assert!(header_name(b"x-tenant\0").is_err());
        let long = "x-".repeat(MAX_KEPT_LENGTH);
        assert_eq!(
            header_name(long.as_bytes()).expect("valid").as_str(),
            long.as_str()
        );
    }

    #[test]
    fn standard_names_come_back_standard() {
        assert_eq!(
            header_name(b"Content-Type").expect("valid"),
            http::header::CONTENT_TYPE
        );
    }
}
