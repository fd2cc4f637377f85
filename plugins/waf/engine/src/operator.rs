//! Operators (`@rx`, `@pm`, `@eq` ...), read and checked when the rules
//! load; regexes and phrase automata are built once, at first use.

use std::net::IpAddr;
use std::path::Path;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use libinjectionrs::{SqliFlags, SqliState};
use regex::bytes::{Regex, RegexBuilder};

use crate::macros::{MacroSource, MacroString};

#[derive(Debug)]
pub enum Operator {
    Rx(LazyRegex),
    /// Case-insensitive phrase match (`@pm`, `@pmFromFile`).
    Pm(LazyPhrases),
    DetectSqli,
    DetectXss,
    /// Matches when a byte falls outside the allowed set.
    ValidateByteRange(Box<[bool; 256]>),
    ValidateUrlEncoding,
    ValidateUtf8Encoding,
    Compare(Comparison, MacroString),
    Text(TextTest, MacroString),
    IpMatch(Vec<(IpAddr, u8)>),
    Unconditional,
    Never,
}

#[derive(Debug, Clone, Copy)]
pub enum Comparison {
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
}

#[derive(Debug, Clone, Copy)]
pub enum TextTest {
    Streq,
    Contains,
    BeginsWith,
    EndsWith,
    /// The operand contains the value.
    Within,
    ContainsWord,
}

/// The captures a matching operator hands to `capture`: TX:0 to TX:9.
pub type Captures = Vec<Vec<u8>>;

impl Operator {
    /// Compiles `@name argument`; a bare argument is `@rx`. `data_dir` is
    /// where `@pmFromFile` looks.
    pub fn compile(text: &str, data_dir: &Path) -> Result<(Operator, bool), String> {
        let (negated, text) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (name, argument) = match text.strip_prefix('@') {
            Some(rest) => match rest.split_once([' ', '\t']) {
                Some((name, argument)) => (name, argument.trim_start()),
                None => (rest, ""),
            },
            None => ("rx", text),
        };
        let operator = match name {
            "rx" => Operator::Rx(LazyRegex::new(argument)?),
            "pm" => Operator::Pm(LazyPhrases::new(
                argument.split_whitespace().map(str::to_string),
            )),
            "pmFromFile" | "pmf" => {
                Operator::Pm(LazyPhrases::new(phrase_file(argument, data_dir)?))
            }
            "detectSQLi" => Operator::DetectSqli,
            "detectXSS" => Operator::DetectXss,
            "validateByteRange" => Operator::ValidateByteRange(byte_ranges(argument)?),
            "validateUrlEncoding" => Operator::ValidateUrlEncoding,
            "validateUtf8Encoding" => Operator::ValidateUtf8Encoding,
            "eq" => Operator::Compare(Comparison::Eq, MacroString::parse(argument)),
            "ge" => Operator::Compare(Comparison::Ge, MacroString::parse(argument)),
            "gt" => Operator::Compare(Comparison::Gt, MacroString::parse(argument)),
            "le" => Operator::Compare(Comparison::Le, MacroString::parse(argument)),
            "lt" => Operator::Compare(Comparison::Lt, MacroString::parse(argument)),
            "streq" => Operator::Text(TextTest::Streq, MacroString::parse(argument)),
            "contains" => Operator::Text(TextTest::Contains, MacroString::parse(argument)),
            "containsWord" => Operator::Text(TextTest::ContainsWord, MacroString::parse(argument)),
            "beginsWith" => Operator::Text(TextTest::BeginsWith, MacroString::parse(argument)),
            "endsWith" => Operator::Text(TextTest::EndsWith, MacroString::parse(argument)),
            "within" => Operator::Text(TextTest::Within, MacroString::parse(argument)),
            "ipMatch" => Operator::IpMatch(networks(argument)?),
            "unconditionalMatch" => Operator::Unconditional,
            "noMatch" => Operator::Never,
            other => return Err(format!("@{other}: unknown operator")),
        };
        Ok((operator, negated))
    }

    /// Whether `value` matches; with `captures`, fills it on a match.
    pub fn matches(
        &self,
        value: &[u8],
        source: &dyn MacroSource,
        captures: Option<&mut Captures>,
    ) -> bool {
        match self {
            Operator::Rx(lazy) => {
                if lazy.matches_any_line() {
                    return whole_line(value, captures);
                }
                let Some(regex) = lazy.get() else {
                    // Checked when it loaded, refused only by a size
                    // limit now: the rule fires rather than go blind.
                    return true;
                };
                // Most values do not match: `is_match` answers from the
                // lazy DFA alone, where a capture search allocates and runs
                // a slower engine, so captures are taken only on a match.
                if !regex.is_match(value) {
                    return false;
                }
                match captures {
                    None => true,
                    Some(out) => match regex.captures(value) {
                        None => false,
                        Some(found) => {
                            out.clear();
                            out.extend(found.iter().take(10).map(|group| {
                                group.map(|g| g.as_bytes().to_vec()).unwrap_or_default()
                            }));
                            true
                        }
                    },
                }
            }
            Operator::Pm(lazy) => match lazy.get().map(|phrases| phrases.find(value)) {
                // Refused only by the automaton's own limits, which no
                // readable list reaches: the rule fires rather than go blind.
                None => true,
                Some(None) => false,
                Some(Some(found)) => {
                    if let Some(out) = captures {
                        out.clear();
                        out.push(value[found.range()].to_vec());
                    }
                    true
                }
            },
            Operator::DetectSqli if !may_be_sqli(value) => false,
            Operator::DetectSqli => {
                // `detect_sqli` tokenizes the value once more after the
                // verdict to report the fingerprint; only a match's capture
                // needs it.
                let mut state = SqliState::new(value, SqliFlags::FLAG_NONE);
                let injection = state.detect();
                if injection && let Some(out) = captures {
                    out.clear();
                    out.push(state.get_fingerprint().as_bytes().to_vec());
                }
                injection
            }
            Operator::DetectXss => {
                may_be_xss(value) && libinjectionrs::detect_xss(value).is_injection()
            }
            Operator::ValidateByteRange(allowed) => {
                value.iter().any(|&byte| !allowed[usize::from(byte)])
            }
            Operator::ValidateUrlEncoding => has_bad_url_encoding(value),
            Operator::ValidateUtf8Encoding => std::str::from_utf8(value).is_err(),
            Operator::Compare(comparison, operand) => {
                let left = leading_integer(value);
                let right = leading_integer(&operand.expand(source));
                match comparison {
                    Comparison::Eq => left == right,
                    Comparison::Ge => left >= right,
                    Comparison::Gt => left > right,
                    Comparison::Le => left <= right,
                    Comparison::Lt => left < right,
                }
            }
            Operator::Text(test, operand) => {
                let operand = operand.expand(source);
                let found = text_test(*test, value, &operand);
                if found && let Some(out) = captures {
                    out.clear();
                    out.push(value.to_vec());
                }
                found
            }
            Operator::IpMatch(networks) => std::str::from_utf8(value)
                .ok()
                .and_then(|text| text.trim().parse::<IpAddr>().ok())
                .is_some_and(|address| networks.iter().any(|net| in_network(address, *net))),
            Operator::Unconditional => true,
            Operator::Never => false,
        }
    }
}

/// An `@rx` pattern, checked when the rules load and compiled the first
/// time a rule needs it. Most never are (rules of higher paranoia levels
/// are skipped, and the prefilter rules out most others), and a compiled
/// CRS pattern takes up to half a megabyte in each plugin instance.
#[derive(Debug)]
pub struct LazyRegex {
    /// The pattern as the regex crate reads it (see [`byte_escapes`]).
    pattern: String,
    /// Whether it needs Unicode mode.
    unicode: bool,
    compiled: OnceLock<Option<Regex>>,
}

/// A pattern that matches any value without a line feed, and captures it
/// whole: the CRS's way of capturing each header name (920450) for a
/// `setvar`, which a capture search would answer at many times the cost.
const ANY_LINE: &str = "^.*$";

impl LazyRegex {
    /// Check `pattern` (a syntax error is an error now, not at its first
    /// use) without compiling it.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let pattern = byte_escapes(pattern);
        let parses = |unicode: bool| {
            regex_syntax::ParserBuilder::new()
                .unicode(unicode)
                .utf8(false)
                .build()
                .parse(&pattern)
                .map(drop)
                .map_err(|error| error.to_string())
        };
        let unicode = match parses(false) {
            Ok(_) => false,
            Err(_) => {
                parses(true).map_err(|error| format!("@rx: {error}"))?;
                true
            }
        };
        Ok(LazyRegex {
            pattern,
            unicode,
            compiled: OnceLock::new(),
        })
    }

    /// The pattern's text.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the pattern is [`ANY_LINE`] read as bytes (`.` is any byte
    /// but a line feed, `^` and `$` the value's ends).
    fn matches_any_line(&self) -> bool {
        !self.unicode && self.pattern == ANY_LINE
    }

    /// The compiled regex, compiled now if it was not; `None` if it
    /// exceeds the size limits.
    pub fn get(&self) -> Option<&Regex> {
        self.compiled
            .get_or_init(|| build_regex(&self.pattern, self.unicode).ok())
            .as_ref()
    }
}

/// [`ANY_LINE`]'s verdict on `value`, its one capture the whole value.
fn whole_line(value: &[u8], captures: Option<&mut Captures>) -> bool {
    if memchr::memchr(b'\n', value).is_some() {
        return false;
    }
    if let Some(out) = captures {
        out.clear();
        out.push(value.to_vec());
    }
    true
}

/// Compiles a (byte-escaped) PCRE-style pattern to match bytes as PCRE
/// does without UTF mode: `\w`, `\s`, `\b` and case folding are ASCII, `.`
/// is any byte; `unicode` for a pattern that needs Unicode syntax.
fn build_regex(pattern: &str, unicode: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .unicode(unicode)
        .size_limit(256 << 20)
        .dfa_size_limit(16 << 20)
        .build()
}

/// PCRE reads `\x{bc}` as the byte 0xbc when not in UTF mode; the regex
/// crate reads it as U+00BC, which it refuses inside a byte class. Rewrite
/// one- and two-digit braced escapes as `\xHH`, which it reads as a byte.
fn byte_escapes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let rest = &pattern[at + 1..];
        let braced = rest
            .strip_prefix("x{")
            .and_then(|inner| inner.split_once('}'))
            .filter(|(digits, _)| {
                (1..=2).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_hexdigit())
            });
        match braced {
            Some((digits, _)) => {
                out.push_str(&format!("\\x{digits:0>2}"));
                for _ in 0..digits.len() + 3 {
                    chars.next();
                }
            }
            None => {
                out.push('\\');
                if let Some((_, escaped)) = chars.next() {
                    out.push(escaped);
                }
            }
        }
    }
    out
}

/// An `@pm` or `@pmFromFile` phrase list, read when the rules load and
/// built into an automaton the first time a rule needs it. As with
/// [`LazyRegex`], most never are: the Core Rule Set's response rules run
/// only when responses are inspected and its higher paranoia levels are
/// skipped, and PHP's error list alone makes an automaton of 1.1 MiB in
/// each plugin instance, against 75 KiB of phrases.
#[derive(Debug)]
pub struct LazyPhrases {
    phrases: Vec<String>,
    built: OnceLock<Option<AhoCorasick>>,
}

impl LazyPhrases {
    fn new(list: impl IntoIterator<Item = String>) -> Self {
        LazyPhrases {
            phrases: list.into_iter().filter(|p| !p.is_empty()).collect(),
            built: OnceLock::new(),
        }
    }

    /// The phrases, empty ones left out.
    pub fn phrases(&self) -> &[String] {
        &self.phrases
    }

    /// The automaton, built now if it was not.
    pub fn get(&self) -> Option<&AhoCorasick> {
        self.built
            .get_or_init(|| phrases(&self.phrases).ok())
            .as_ref()
    }
}

/// Phrase bytes past which a list is built as a (contiguous) NFA, not a
/// DFA: a DFA takes a few hundred bytes per phrase byte, and two CRS lists
/// (IIS errors, PHP web shells: 4 and 5 KB of phrases, read in response
/// bodies) made DFAs of 1.7 and 2.4 MiB in every plugin instance. Decided
/// before building, so no instance ever holds the DFA even briefly.
const PHRASE_DFA_MAX_BYTES: usize = 2048;

fn phrases(list: &[String]) -> Result<AhoCorasick, String> {
    let total: usize = list.iter().map(String::len).sum();
    let kind = (total > PHRASE_DFA_MAX_BYTES).then_some(AhoCorasickKind::ContiguousNFA);
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .kind(kind)
        .build(list)
        .map_err(|error| format!("@pm: {error}"))
}

fn phrase_file(names: &str, data_dir: &Path) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for name in names.split_whitespace() {
        let path = data_dir.join(name);
        let text = std::fs::read_to_string(&path)
            .map_err(|error| format!("@pmFromFile {}: {error}", path.display()))?;
        out.extend(
            text.lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .map(str::to_string),
        );
    }
    Ok(out)
}

fn byte_ranges(text: &str) -> Result<Box<[bool; 256]>, String> {
    let mut allowed = Box::new([false; 256]);
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let parse = |n: &str| {
            n.trim()
                .parse::<u8>()
                .map_err(|_| format!("@validateByteRange {text}: {n} is not a byte"))
        };
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => (parse(part)?, parse(part)?),
        };
        for byte in first..=last {
            allowed[usize::from(byte)] = true;
        }
    }
    Ok(allowed)
}

fn networks(text: &str) -> Result<Vec<(IpAddr, u8)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| {
            let (address, bits) = match part.split_once('/') {
                Some((address, bits)) => (address, Some(bits)),
                None => (part, None),
            };
            let address: IpAddr = address
                .parse()
                .map_err(|_| format!("@ipMatch: {part} is not an address or network"))?;
            let max = if address.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(bits) => bits
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("@ipMatch: {part} has a bad prefix length"))?,
                None => max,
            };
            Ok((address, bits))
        })
        .collect()
}

fn in_network(address: IpAddr, (network, bits): (IpAddr, u8)) -> bool {
    let (address, network, width) = match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        (IpAddr::V6(a), IpAddr::V4(n)) => match a.to_ipv4_mapped() {
            Some(a) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
            None => return false,
        },
        (IpAddr::V4(_), IpAddr::V6(_)) => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - u32::from(bits);
    address >> shift == network >> shift
}

fn has_bad_url_encoding(value: &[u8]) -> bool {
    let mut i = 0;
    while let Some(offset) = memchr::memchr(b'%', &value[i..]) {
        let at = i + offset;
        match value.get(at + 1..at + 3) {
            Some(pair) if pair.iter().all(u8::is_ascii_hexdigit) => i = at + 3,
            _ => return true,
        }
    }
    false
}

/// The integer a value starts with, as C's atoi reads it (0 when none).
pub fn leading_integer(value: &[u8]) -> i64 {
    let text = value.trim_ascii_start();
    let (sign, digits) = match text.first() {
        Some(b'-') => (-1, &text[1..]),
        Some(b'+') => (1, &text[1..]),
        _ => (1, text),
    };
    let mut number: i64 = 0;
    for &digit in digits.iter().take_while(|b| b.is_ascii_digit()) {
        number = number
            .saturating_mul(10)
            .saturating_add(i64::from(digit - b'0'));
    }
    sign * number
}

fn text_test(test: TextTest, value: &[u8], operand: &[u8]) -> bool {
    match test {
        TextTest::Streq => value == operand,
        TextTest::Contains => memchr::memmem::find(value, operand).is_some(),
        TextTest::BeginsWith => value.starts_with(operand),
        TextTest::EndsWith => value.ends_with(operand),
        TextTest::Within => memchr::memmem::find(operand, value).is_some(),
        TextTest::ContainsWord => {
            let word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
            memchr::memmem::find_iter(value, operand).any(|at| {
                let before = at.checked_sub(1).and_then(|i| value.get(i));
                !word(before) && !word(value.get(at + operand.len()))
            })
        }
    }
}

/// Whether libinjection's XSS check could flag `value` at all. Its every
/// verdict needs a tag, comment or doctype, which only `<` opens, or an
/// attribute value after a listed attribute name, which only `=` gives: a
/// value with neither is read as text or as bare attribute names in each
/// of its five contexts. Most argument values have neither, and the check
/// (five passes of an HTML tokenizer) is one of the WAF's dearest.
fn may_be_xss(value: &[u8]) -> bool {
    memchr::memchr2(b'<', b'=', value).is_some()
}

/// Whether libinjection's SQL check could flag `value` at all. A verdict
/// needs a fingerprint of two tokens or more (or the one-token `X`, which
/// no keyword has). One token is: the empty value none; a run of digits;
/// a word (`[A-Za-z_][A-Za-z0-9_.]*`: no delimiter ends it, no quote or
/// comment starts another context, and the string-prefix letters b, e, n,
/// q, u and x read on as a word without a quote) unless the part before
/// one of its dots is a keyword, which libinjection splits off as a token
/// of its own. Names, enumerations and counts are most of an API's
/// arguments, and every JSON argument's name is such a word.
fn may_be_sqli(value: &[u8]) -> bool {
    let Some(&first) = value.first() else {
        return false;
    };
    if value.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let word = (first.is_ascii_alphabetic() || first == b'_')
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.');
    if !word {
        return true;
    }
    value.iter().enumerate().any(|(at, &byte)| {
        byte == b'.' && {
            // ASCII, so always text.
            let before = std::str::from_utf8(&value[..at]).unwrap_or_default();
            !matches!(
                libinjectionrs::sqli::sqli_data::lookup_word(before),
                libinjectionrs::sqli::TokenType::None | libinjectionrs::sqli::TokenType::Bareword
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    use crate::variable::Variable;

    struct NoSource;
    impl MacroSource for NoSource {
        fn lookup(&self, _: Variable, _: Option<&[u8]>) -> Option<Cow<'_, [u8]>> {
            Some(Cow::Borrowed(b"3"))
        }
    }

    fn check(operator: &str, value: &[u8]) -> bool {
        let (operator, negated) = Operator::compile(operator, Path::new(".")).expect("compiles");
        operator.matches(value, &NoSource, None) != negated
    }

    #[test]
    fn any_line_answers_as_its_regex_would() {
        let (operator, _) = Operator::compile("@rx ^.*$", Path::new(".")).expect("compiles");
        let Operator::Rx(lazy) = &operator else {
            panic!("a regex operator");
        };
        assert!(lazy.matches_any_line());
        let regex = build_regex(ANY_LINE, false).expect("compiles");
        let values: [&[u8]; 7] = [
            b"",
            b"user-agent",
            b"X-Forwarded-For",
            b"line\nfeed",
            b"\n",
            b"carriage\rreturn",
            b"\xff\xfe not UTF-8",
        ];
        for value in values {
            let mut captures = Vec::new();
            let fast = operator.matches(value, &NoSource, Some(&mut captures));
            let slow = regex.captures(value);
            assert_eq!(fast, slow.is_some(), "{value:?}");
            if let Some(slow) = slow {
                let slow: Captures = slow
                    .iter()
                    .map(|g| g.map_or(Vec::new(), |g| g.as_bytes().to_vec()))
                    .collect();
                assert_eq!(captures, slow, "{value:?}");
            }
        }
        assert!(lazy.compiled.get().is_none(), "never compiled");
    }

    #[test]
    fn regex_matches_bytes_not_text() {
        assert!(check("@rx ^\\xff.$", b"\xff\xfe"));
        assert!(check("@rx (?i)select", b"SeLeCt"));
        assert!(!check("!@rx a", b"cat"));
    }

    #[test]
    fn braced_hex_escapes_are_bytes() {
        assert_eq!(
            byte_escapes(r"[^>\x{be}]\\x{41}\x{1}\x{263a}"),
            r"[^>\xbe]\\x{41}\x01\x{263a}"
        );
        assert!(check("@rx \\x{bc}[^>\\x{be}]*\\x{be}", b"\xbcscript\xbe"));
    }

    #[test]
    fn numbers_compare_with_macros() {
        assert!(check("@lt %{tx.x}", b"2"));
        assert!(check("@ge 3", b"3abc"));
        assert!(check("@eq 0", b""));
    }

    #[test]
    fn byte_ranges_urls_and_utf8() {
        assert!(check("@validateByteRange 32-126", b"ab\x01"));
        assert!(!check("@validateByteRange 32-126", b"ab c"));
        assert!(check("@validateUrlEncoding", b"a%2"));
        assert!(!check("@validateUrlEncoding", b"a%2f"));
        assert!(check("@validateUtf8Encoding", b"\xc0\xaf"));
    }

    #[test]
    fn phrases_addresses_and_text() {
        assert!(check("@pm gzip compress", b"x-COMPRESS"));
        assert!(check("@ipMatch 127.0.0.1,::1,10.0.0.0/8", b"10.1.2.3"));
        assert!(!check("@ipMatch 127.0.0.1", b"127.0.0.2"));
        assert!(check("@within |GET| |POST|", b"GET"));
        assert!(check("@detectSQLi", b"1' OR '1'='1"));
        assert!(check("@detectXSS", b"<script>alert(1)</script>"));
    }

    /// A fixed-seed xorshift generator: the same values in every run.
    fn generator(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// How many of `values` a shortcut skips (`may_flag` false), having
    /// checked that libinjection (`flags`) flags none of those.
    fn skipped_and_unflagged(
        values: &[Vec<u8>],
        may_flag: fn(&[u8]) -> bool,
        flags: fn(&[u8]) -> bool,
    ) -> usize {
        let skipped: Vec<&Vec<u8>> = values.iter().filter(|value| !may_flag(value)).collect();
        for value in &skipped {
            assert!(!flags(value), "{:?}", String::from_utf8_lossy(value));
        }
        skipped.len()
    }

    #[test]
    fn only_values_with_a_tag_or_an_assignment_can_be_xss() {
        // libinjection's own verdict on many values without `<` or `=`:
        // HTML-ish fragments, attribute names and URLs that would be
        // black after `=`, quotes of every kind, and pseudo-random bytes.
        let pieces: [&[u8]; 24] = [
            b"onload",
            b"onerror",
            b"style",
            b"href",
            b"src",
            b"xmlns",
            b"formaction",
            b"javascript:",
            b"vbscript:",
            b"data:",
            b"alert(1)",
            b"script",
            b"svg",
            b"\"",
            b"'",
            b"`",
            b">",
            b"/",
            b" ",
            b"\t",
            b"\n",
            b"!--",
            b"?",
            b"&#x3c;",
        ];
        let mut next = generator(0x9e37_79b9_7f4a_7c15);
        let mut values: Vec<Vec<u8>> = Vec::new();
        for _ in 0..20_000 {
            let mut value = Vec::new();
            for _ in 0..(next() % 8) {
                match next() % 4 {
                    0 => value.push((next() % 256) as u8),
                    _ => value.extend_from_slice(pieces[(next() % 24) as usize]),
                }
            }
            values.push(value);
        }
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../../shared/corpora/libinjection/false_positives.txt");
        let text = std::fs::read(&corpus).expect("the libinjection corpus");
        values.extend(text.split(|&b| b == b'\n').map(<[u8]>::to_vec));
        let without = skipped_and_unflagged(&values, may_be_xss, |value| {
            libinjectionrs::detect_xss(value).is_injection()
        });
        assert!(without > 10_000, "{without} values without `<` or `=`");
        assert!(check("@detectXSS", b"x onerror=alert(1)"));
        assert!(check("@detectXSS", b"<svg onload"));
    }

    #[test]
    fn only_values_of_more_than_one_token_can_be_sql_injection() {
        // Every keyword libinjection knows, in three cases and with
        // suffixes, and pseudo-random sequences of words, digits,
        // underscores and delimiters: libinjection flags none of those
        // the shortcut skips.
        let mut values: Vec<Vec<u8>> = Vec::new();
        for keyword in libinjectionrs::sqli::sqli_data::SQL_KEYWORDS {
            let word = keyword.word.as_bytes();
            values.push(word.to_vec());
            values.push(word.to_ascii_lowercase());
            values.push([word, b"1"].concat());
            values.push([b"_", word, b"_x"].concat());
            values.push([word, b".x"].concat());
            values.push([b"json.", word, b".0"].concat());
        }
        let pieces: [&[u8]; 18] = [
            b"union", b"select", b"or", b"and", b"1", b"0", b"0x1f", b"_", b"sleep", b"null", b" ",
            b"'", b"--", b"#", b"(", b"e5", b".", b"json.",
        ];
        let mut next = generator(0x2545_f491_4f6c_dd1d);
        for _ in 0..20_000 {
            let mut value = Vec::new();
            for _ in 0..(1 + next() % 6) {
                value.extend_from_slice(pieces[(next() % 18) as usize]);
            }
            values.push(value);
        }
        values.push(b"12345678901234567890".to_vec());
        // Words and spaces alone can be an injection, and so can a word
        // whose part before a dot is a keyword: the shortcut must take
        // neither for one token.
        for injection in [
            &b"union select 1"[..],
            b"a union select null",
            b"name union select password from users",
            b"select.1null",
            b"not.1union",
        ] {
            assert!(libinjectionrs::detect_sqli(injection).is_injection());
            values.push(injection.to_vec());
        }
        let skipped = skipped_and_unflagged(&values, may_be_sqli, |value| {
            libinjectionrs::detect_sqli(value).is_injection()
        });
        assert!(skipped > 10_000, "{skipped} values skipped");
        assert!(check("@detectSQLi", b"1 union select 1"));
        assert!(check("@detectSQLi", b"x' or 1#"));
    }

    #[test]
    fn sql_injection_captures_libinjections_fingerprint() {
        let (operator, _) = Operator::compile("@detectSQLi", Path::new(".")).expect("compiles");
        for value in [
            &b"1' OR '1'='1"[..],
            b"1 UNION SELECT password FROM users--",
            b"x\" or 1=1 #",
        ] {
            let mut captures = Vec::new();
            assert!(operator.matches(value, &NoSource, Some(&mut captures)));
            let expected = libinjectionrs::detect_sqli(value)
                .fingerprint
                .expect("fingerprint");
            assert_eq!(captures, vec![expected.as_bytes().to_vec()], "{value:?}");
        }
        let mut captures = Vec::new();
        assert!(!operator.matches(b"Ada Lovelace", &NoSource, Some(&mut captures)));
        assert!(captures.is_empty());
    }

    #[test]
    fn patterns_are_checked_at_load_and_compiled_at_first_use() {
        assert!(Operator::compile("@rx (unclosed", Path::new(".")).is_err());
        let lazy = LazyRegex::new("(?i)union[\\s\\x0b]+select").expect("parses");
        assert!(lazy.compiled.get().is_none(), "not compiled while loading");
        assert!(lazy.get().is_some_and(|r| r.is_match(b"1 UNION  SELECT 2")));
        // Unicode syntax still loads, in Unicode mode.
        let unicode = LazyRegex::new("\\p{Greek}").expect("parses");
        assert!(unicode.get().is_some_and(|r| r.is_match("α".as_bytes())));
    }

    #[test]
    fn phrase_lists_are_read_at_load_and_built_at_first_use() {
        let error = Operator::compile("@pmFromFile missing.data", Path::new("/nonexistent"))
            .expect_err("a missing file is an error now");
        assert!(error.contains("missing.data"), "{error}");
        let lazy = LazyPhrases::new(["Warning".to_string(), String::new()]);
        assert!(lazy.built.get().is_none(), "not built while loading");
        assert!(lazy.get().is_some_and(|a| a.is_match(b"PHP warning: x")));
    }

    #[test]
    fn large_phrase_lists_are_kept_small() {
        // Long phrases make a DFA of megabytes; the list is kept as an NFA.
        let long: Vec<String> = (0..90)
            .map(|i| format!("{i:03}-some-long-web-shell-marker-phrase-{i}-and-more-of-it"))
            .collect();
        let automaton = phrases(&long).expect("builds");
        assert_eq!(automaton.kind(), AhoCorasickKind::ContiguousNFA);
        assert!(
            automaton.memory_usage() < 256 << 10,
            "{}",
            automaton.memory_usage()
        );
        assert!(automaton.is_match(long[42].to_uppercase().as_bytes()));
        // Short lists keep the faster DFA.
        let short = phrases(&["gzip".to_string(), "compress".to_string()]).expect("builds");
        assert_eq!(short.kind(), AhoCorasickKind::DFA);
    }
}
