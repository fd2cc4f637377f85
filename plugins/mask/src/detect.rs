//! Finding sensitive data in text. One combined regular expression finds
//! candidates in a single pass; each candidate is then confirmed by its
//! kind's own check (Luhn for cards, mod-97 for IBANs, the SSA's rules for
//! SSNs), so a 16-digit order number that fails Luhn stays readable.

use std::ops::Range;

use regex::Regex;
use serde::Deserialize;

use crate::style::Style;

/// A kind of sensitive data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// JSON Web Tokens (`eyJ...`).
    Jwt,
    /// API keys with a recognisable shape: AWS, GitHub, Stripe, Slack,
    /// Google and Portcullis keys.
    ApiKey,
    /// International bank account numbers, mod-97 checked.
    Iban,
    /// Payment card numbers (13-19 digits, Luhn checked).
    Card,
    /// US social security numbers (`123-45-6789`).
    Ssn,
    /// E-mail addresses.
    Email,
    /// Phone numbers: international (`+44 20 7946 0958`) or North
    /// American with separators (`(415) 555-2671`).
    Phone,
}

impl Kind {
    /// Every kind, in the order candidates are tried.
    pub const ALL: [Kind; 7] = [
        Kind::Jwt,
        Kind::ApiKey,
        Kind::Iban,
        Kind::Card,
        Kind::Ssn,
        Kind::Email,
        Kind::Phone,
    ];

    fn pattern(self) -> &'static str {
        match self {
            Kind::Jwt => r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
            Kind::ApiKey => concat!(
                r"(?:AKIA|ASIA)[0-9A-Z]{16}",
                r"|gh[pousr]_[A-Za-z0-9]{36,}",
                r"|github_pat_[A-Za-z0-9_]{60,}",
                r"|[sr]k_(?:live|test)_[0-9A-Za-z]{16,}",
                r"|xox[abposr]-[0-9A-Za-z-]{10,}",
                r"|AIza[0-9A-Za-z_-]{35}",
                r"|pk_[0-9a-z]{8,}_[0-9A-Za-z_-]{20,}",
            ),
            Kind::Iban => r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?",
            Kind::Card => r"[0-9](?:[ -]?[0-9]){12,18}",
            Kind::Ssn => r"[0-9]{3}-[0-9]{2}-[0-9]{4}",
            Kind::Email => r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
            Kind::Phone => {
                r"\+[1-9][0-9]{0,2}[ .-]?(?:\(?[0-9]{1,4}\)?[ .-]?){1,4}[0-9]{2,4}|\(?[0-9]{3}\)?[ .-][0-9]{3}[ .-][0-9]{4}"
            }
        }
    }

    /// Whether a candidate really is this kind.
    fn confirms(self, candidate: &str) -> bool {
        match self {
            Kind::Card => luhn(candidate),
            Kind::Iban => iban_checksum(candidate),
            Kind::Ssn => ssn_is_issuable(candidate),
            Kind::Phone => candidate.bytes().filter(u8::is_ascii_digit).count() >= 8,
            _ => true,
        }
    }
}

/// The detectors a route asked for, compiled once.
#[derive(Debug, Clone)]
pub struct Detectors {
    combined: Option<Regex>,
    kinds: Vec<(Kind, Regex)>,
}

impl Detectors {
    /// Compile detectors for `kinds`.
    pub fn new(kinds: &[Kind]) -> Self {
        let ordered: Vec<Kind> = Kind::ALL
            .into_iter()
            .filter(|k| kinds.contains(k))
            .collect();
        // Candidates must stand alone: no letter or digit right before or
        // after (ASCII word boundaries keep the automaton fast).
        let bounded = |kind: Kind| {
            let lead = if kind == Kind::Phone { "" } else { r"(?-u:\b)" };
            format!(r"{lead}(?:{})(?-u:\b)", kind.pattern())
        };
        let combined = (!ordered.is_empty()).then(|| {
            let alternation: Vec<String> = ordered.iter().map(|&k| bounded(k)).collect();
            regex::RegexBuilder::new(&alternation.join("|"))
                .dfa_size_limit(16 << 20)
                .build()
                .expect("the built-in patterns compile")
        });
        let kinds = ordered
            .into_iter()
            .map(|kind| {
                (
                    kind,
                    Regex::new(&format!("^(?:{})$", bounded(kind)))
                        .expect("the built-in patterns compile"),
                )
            })
            .collect();
        Self { combined, kinds }
    }

    /// Where the combined pattern matches in `text`, unconfirmed: a cheap
    /// map of where sensitive data can be.
    pub fn candidates(&self, text: &str) -> Vec<Range<usize>> {
        match &self.combined {
            Some(combined) => combined.find_iter(text).map(|m| m.range()).collect(),
            None => Vec::new(),
        }
    }

    /// `text` with every confirmed span written in `style`, or `None` if
    /// there was none.
    pub fn mask(&self, text: &str, style: &Style) -> Option<String> {
        let found = self.find(text);
        if found.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (range, _) in found {
            out.push_str(&text[at..range.start]);
            out.push_str(&style.apply(&text[range.clone()]));
            at = range.end;
        }
        out.push_str(&text[at..]);
        Some(out)
    }

    /// Spans of confirmed sensitive data in `text`, in order.
    pub fn find(&self, text: &str) -> Vec<(Range<usize>, Kind)> {
        let Some(combined) = &self.combined else {
            return Vec::new();
        };
        if !could_hold_a_candidate(text) {
            return Vec::new();
        }
        let mut found = Vec::new();
        let mut at = 0;
        while let Some(candidate) = combined.find_at(text, at) {
            let span = candidate.as_str();
            // A candidate that fails its check may have swallowed a real
            // one (`4111111111111111 12` fails Luhn as a whole): try it cut
            // at each separator, longest first, then search again from the
            // next character.
            let cuts = std::iter::once(span.len()).chain(
                span.char_indices()
                    .rev()
                    .filter(|(_, c)| !c.is_ascii_alphanumeric())
                    .map(|(at, _)| at),
            );
            let confirmed = cuts.filter(|&cut| cut > 0).find_map(|cut| {
                let part = &span[..cut];
                self.kinds
                    .iter()
                    .find(|(kind, exact)| exact.is_match(part) && kind.confirms(part))
                    .map(|(kind, _)| (cut, *kind))
            });
            match confirmed {
                Some((cut, kind)) => {
                    let start = candidate.start();
                    found.push((start..start + cut, kind));
                    at = start + cut;
                }
                None => at = next_char(text, candidate.start()),
            }
            if at >= text.len() {
                break;
            }
        }
        found
    }
}

/// The index of the character after the one at `at`.
fn next_char(text: &str, at: usize) -> usize {
    text[at..]
        .chars()
        .next()
        .map_or(text.len(), |c| at + c.len_utf8())
}

/// A cheap test that skips most short JSON values without running the
/// automaton: every kind needs an `@`, seven digits, or twenty characters
/// (JWTs and API keys).
fn could_hold_a_candidate(text: &str) -> bool {
    text.len() >= 20 || text.contains('@') || text.bytes().filter(u8::is_ascii_digit).count() >= 7
}

/// The Luhn check over the digits of `candidate`.
fn luhn(candidate: &str) -> bool {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// ISO 13616 mod-97 over the rearranged IBAN.
fn iban_checksum(candidate: &str) -> bool {
    let compact: Vec<u8> = candidate.bytes().filter(|b| *b != b' ').collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut remainder: u32 = 0;
    for &byte in tail.iter().chain(head) {
        let value = match byte {
            b'0'..=b'9' => u32::from(byte - b'0'),
            b'A'..=b'Z' => u32::from(byte - b'A') + 10,
            _ => return false,
        };
        let width = if value >= 10 { 100 } else { 10 };
        remainder = (remainder * width + value) % 97;
    }
    remainder == 1
}

/// Area 000, 666 and 900-999, group 00 and serial 0000 are never issued.
fn ssn_is_issuable(candidate: &str) -> bool {
    let mut parts = candidate.split('-');
    let (Some(area), Some(group), Some(serial)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

#[cfg(test)]
mod tests {
    use super::{Detectors, Kind};

    fn kinds(text: &str) -> Vec<(String, Kind)> {
        Detectors::new(&Kind::ALL)
            .find(text)
            .into_iter()
            .map(|(range, kind)| (text[range].to_string(), kind))
            .collect()
    }

    #[test]
    fn each_kind_is_found_and_confirmed() {
        assert_eq!(
            kinds("card 4111 1111 1111 1111 ok"),
            vec![("4111 1111 1111 1111".into(), Kind::Card)]
        );
        assert_eq!(kinds("order 4111111111111112"), vec![], "fails Luhn");
        assert_eq!(
            kinds("4111111111111111 12"),
            vec![("4111111111111111".into(), Kind::Card)],
            "found inside a longer candidate"
        );
        assert_eq!(
            kinds("123-45-6789 1234"),
            vec![("123-45-6789".into(), Kind::Ssn)]
        );
        assert_eq!(
            kinds("ssn 123-45-6789"),
            vec![("123-45-6789".into(), Kind::Ssn)]
        );
        assert_eq!(kinds("ssn 666-45-6789"), vec![]);
        assert_eq!(
            kinds("mail a.b+c@example.co.uk."),
            vec![("a.b+c@example.co.uk".into(), Kind::Email)]
        );
        assert_eq!(
            kinds("call +44 20 7946 0958"),
            vec![("+44 20 7946 0958".into(), Kind::Phone)]
        );
        assert_eq!(
            kinds("call (415) 555-2671"),
            vec![("(415) 555-2671".into(), Kind::Phone)]
        );
        assert_eq!(
            kinds("iban GB82 WEST 1234 5698 7654 32"),
            vec![("GB82 WEST 1234 5698 7654 32".into(), Kind::Iban)]
        );
        assert_eq!(kinds("iban GB82WEST12345698765433"), vec![], "bad checksum");
        assert_eq!(
            kinds("key AKIAIOSFODNN7EXAMPLE"),
            vec![("AKIAIOSFODNN7EXAMPLE".into(), Kind::ApiKey)]
        );
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(
            kinds(&format!("token={jwt};")),
            vec![(jwt.into(), Kind::Jwt)]
        );
    }

    #[test]
    fn ordinary_numbers_dates_and_ids_stay_readable() {
        for text in [
            "2024-01-15T10:00:00Z",
            "id 123456",
            "v1.2.3",
            "price 1299.00",
            "x4111111111111111",
        ] {
            assert_eq!(kinds(text), vec![], "{text}");
        }
    }
}
