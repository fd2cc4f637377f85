//! Transformations (`t:`) applied to a value before the operator sees it.
//!
//! Each works on bytes and returns None when the input needs no change, so
//! the common benign value is never copied.

mod decode;
mod normalize;

use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transform {
    Lowercase,
    UrlDecode,
    UrlDecodeUni,
    HtmlEntityDecode,
    JsDecode,
    CssDecode,
    EscapeSeqDecode,
    Base64Decode,
    HexEncode,
    Sha1,
    Length,
    Utf8ToUnicode,
    CmdLine,
    CompressWhitespace,
    RemoveWhitespace,
    RemoveNulls,
    ReplaceComments,
    RemoveCommentsChar,
    NormalizePath,
    NormalizePathWin,
    Trim,
}

impl Transform {
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "lowercase" => Self::Lowercase,
            "urlDecode" => Self::UrlDecode,
            "urlDecodeUni" => Self::UrlDecodeUni,
            "htmlEntityDecode" => Self::HtmlEntityDecode,
            "jsDecode" => Self::JsDecode,
            "cssDecode" => Self::CssDecode,
            "escapeSeqDecode" => Self::EscapeSeqDecode,
            "base64Decode" => Self::Base64Decode,
            "hexEncode" => Self::HexEncode,
            "sha1" => Self::Sha1,
            "length" => Self::Length,
            "utf8toUnicode" => Self::Utf8ToUnicode,
            "cmdLine" => Self::CmdLine,
            "compressWhitespace" => Self::CompressWhitespace,
            "removeWhitespace" => Self::RemoveWhitespace,
            "removeNulls" => Self::RemoveNulls,
            "replaceComments" => Self::ReplaceComments,
            "removeCommentsChar" => Self::RemoveCommentsChar,
            "normalizePath" | "normalisePath" => Self::NormalizePath,
            "normalizePathWin" | "normalisePathWin" => Self::NormalizePathWin,
            "trim" => Self::Trim,
            _ => return None,
        })
    }

    /// The transformed value, or None if it is unchanged.
    pub fn apply(self, input: &[u8]) -> Option<Vec<u8>> {
        match self {
            Self::Lowercase => normalize::lowercase(input),
            Self::UrlDecode => decode::url(input, false),
            Self::UrlDecodeUni => decode::url(input, true),
            Self::HtmlEntityDecode => decode::html_entities(input),
            Self::JsDecode => decode::js(input),
            Self::CssDecode => decode::css(input),
            Self::EscapeSeqDecode => decode::escape_sequences(input),
            Self::Base64Decode => Some(decode::base64(input)),
            Self::HexEncode => Some(normalize::hex_encode(input)),
            Self::Sha1 => Some(normalize::sha1(input)),
            Self::Length => Some(input.len().to_string().into_bytes()),
            Self::Utf8ToUnicode => decode::utf8_to_unicode(input),
            Self::CmdLine => Some(normalize::cmd_line(input)).filter(|out| out != input),
            Self::CompressWhitespace => normalize::compress_whitespace(input),
            Self::RemoveWhitespace => normalize::remove_whitespace(input),
            Self::RemoveNulls => normalize::remove_nulls(input),
            Self::ReplaceComments => normalize::replace_comments(input),
            Self::RemoveCommentsChar => normalize::remove_comment_chars(input),
            Self::NormalizePath => normalize::path(input, false),
            Self::NormalizePathWin => normalize::path(input, true),
            Self::Trim => normalize::trim(input),
        }
    }
}

/// Byte classes whose presence lets a transformation change a value: a
/// value holding none of a list's triggers comes out of it unchanged, which
/// a table lookup per byte tells without running the list.
pub mod trigger {
    pub const PERCENT_OR_PLUS: u32 = 1;
    pub const AMPERSAND: u32 = 1 << 1;
    pub const BACKSLASH: u32 = 1 << 2;
    pub const NUL: u32 = 1 << 3;
    pub const COMMENT: u32 = 1 << 4;
    pub const SPACE: u32 = 1 << 5;
    pub const UPPER: u32 = 1 << 6;
    pub const NON_ASCII: u32 = 1 << 7;
    pub const PATH: u32 = 1 << 8;
    pub const SHELL: u32 = 1 << 9;
    /// The transformation changes every value (hashes, encodings, length).
    pub const ALWAYS: u32 = 1 << 31;

    const fn class(byte: u8) -> u32 {
        let mut classes = 0;
        if byte == b'%' || byte == b'+' {
            classes |= PERCENT_OR_PLUS;
        }
        if byte == b'&' {
            classes |= AMPERSAND;
        }
        if byte == b'\\' {
            classes |= BACKSLASH | PATH | SHELL;
        }
        if byte == 0 {
            classes |= NUL;
        }
        if matches!(byte, b'/' | b'*' | b'-' | b'#') {
            classes |= COMMENT;
        }
        if matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0xa0) {
            classes |= SPACE | SHELL;
        }
        if byte.is_ascii_uppercase() {
            classes |= UPPER;
        }
        if byte >= 0x80 {
            classes |= NON_ASCII;
        }
        if matches!(byte, b'/' | b'.') {
            classes |= PATH;
        }
        if matches!(byte, b'"' | b'\'' | b'^' | b',' | b';' | b'/' | b'(') {
            classes |= SHELL;
        }
        classes
    }

    const TABLE: [u32; 256] = {
        let mut table = [0; 256];
        let mut byte = 0;
        while byte < 256 {
            table[byte] = class(byte as u8);
            byte += 1;
        }
        table
    };

    /// The classes of the bytes in `value`.
    pub fn classes(value: &[u8]) -> u32 {
        value
            .iter()
            .fold(0, |acc, &byte| acc | TABLE[usize::from(byte)])
    }
}

impl Transform {
    /// The byte classes without which this transformation changes nothing.
    pub fn triggers(self) -> u32 {
        use trigger::*;
        match self {
            Self::Lowercase => UPPER,
            Self::UrlDecode | Self::UrlDecodeUni => PERCENT_OR_PLUS,
            Self::HtmlEntityDecode => AMPERSAND,
            Self::JsDecode | Self::CssDecode | Self::EscapeSeqDecode => BACKSLASH,
            Self::Utf8ToUnicode => NON_ASCII,
            Self::CmdLine => SHELL | UPPER,
            Self::CompressWhitespace | Self::RemoveWhitespace | Self::Trim => SPACE,
            Self::RemoveNulls => NUL,
            Self::ReplaceComments | Self::RemoveCommentsChar => COMMENT,
            Self::NormalizePath | Self::NormalizePathWin => PATH,
            Self::Base64Decode | Self::HexEncode | Self::Sha1 | Self::Length => ALWAYS,
        }
    }
}

/// A rule's transformation list, numbered so transformed values can be
/// cached per (value, chain) for the whole transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformChain {
    pub steps: Vec<Transform>,
    pub id: u16,
    /// The steps that matter to a case-insensitive literal scan (all but
    /// `lowercase`), and their list's id: values only lowercased need no
    /// scan of their own.
    pub scan_steps: Vec<Transform>,
    pub scan_id: u16,
    /// The triggers of the steps, and of the scan steps.
    pub triggers: u32,
    pub scan_triggers: u32,
}

impl TransformChain {
    pub fn new(steps: Vec<Transform>) -> Self {
        // Lowercasing is dropped only where no later step reads case
        // (`\\N` is not `\\n`; hashes and base64 differ by case).
        let case_sensitive = |step: &Transform| {
            matches!(
                step,
                Transform::JsDecode
                    | Transform::EscapeSeqDecode
                    | Transform::Base64Decode
                    | Transform::HexEncode
                    | Transform::Sha1
            )
        };
        let scan_steps: Vec<Transform> = steps
            .iter()
            .enumerate()
            .filter(|(index, step)| {
                **step != Transform::Lowercase || steps[index + 1..].iter().any(case_sensitive)
            })
            .map(|(_, step)| *step)
            .collect();
        let triggers_of =
            |steps: &[Transform]| steps.iter().fold(0, |acc, step| acc | step.triggers());
        TransformChain {
            triggers: triggers_of(&steps),
            scan_triggers: triggers_of(&scan_steps),
            steps,
            id: 0,
            scan_steps,
            scan_id: 0,
        }
    }

    /// Whether a value with these byte classes comes out unchanged.
    pub fn leaves(&self, classes: u32) -> bool {
        self.triggers & (classes | trigger::ALWAYS) == 0
    }

    /// Whether the scan steps leave a value with these byte classes unchanged.
    pub fn scan_leaves(&self, classes: u32) -> bool {
        self.scan_triggers & (classes | trigger::ALWAYS) == 0
    }

    /// `input` through the scan steps.
    pub fn apply_scan_steps<'a>(&self, input: &'a [u8]) -> Cow<'a, [u8]> {
        apply_steps(&self.scan_steps, input)
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn apply<'a>(&self, input: &'a [u8]) -> Cow<'a, [u8]> {
        apply_steps(&self.steps, input)
    }

    /// Whether `test` holds for any intermediate value (for `multiMatch`):
    /// the input first, then each value a step changed, in order. Stops at
    /// the first that passes, and holds only one transformed value at a time.
    pub fn any_step(&self, input: &[u8], mut test: impl FnMut(&[u8]) -> bool) -> bool {
        if test(input) {
            return true;
        }
        let mut current: Option<Vec<u8>> = None;
        let mut classes = trigger::classes(input);
        for step in &self.steps {
            let last = current.as_deref().unwrap_or(input);
            if let Some(changed) = step.apply_if_triggered(last, classes) {
                if test(&changed) {
                    return true;
                }
                classes = trigger::classes(&changed);
                current = Some(changed);
            }
        }
        false
    }
}

impl Transform {
    /// [`Transform::apply`], skipped when `classes` (the input's byte
    /// classes) hold none of the step's triggers.
    fn apply_if_triggered(self, input: &[u8], classes: u32) -> Option<Vec<u8>> {
        if self.triggers() & (classes | trigger::ALWAYS) == 0 {
            return None;
        }
        self.apply(input)
    }
}

/// `input` through `steps` in order, copied only when a step changes it;
/// a step none of whose triggers the value holds is not run.
fn apply_steps<'a>(steps: &[Transform], input: &'a [u8]) -> Cow<'a, [u8]> {
    let mut value = Cow::Borrowed(input);
    let mut classes = trigger::classes(input);
    for step in steps {
        if let Some(changed) = step.apply_if_triggered(&value, classes) {
            classes = trigger::classes(&changed);
            value = Cow::Owned(changed);
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_step_sees_the_input_then_each_changed_value_in_order() {
        let chain = TransformChain::new(vec![
            Transform::UrlDecode,
            Transform::Lowercase,
            Transform::RemoveNulls,
        ]);
        let mut seen = Vec::new();
        let passed = chain.any_step(b"A%20B", |value| {
            seen.push(value.to_vec());
            false
        });
        assert!(!passed);
        // Removing NULs changed nothing, so it adds no value.
        assert_eq!(seen, [b"A%20B".to_vec(), b"A B".to_vec(), b"a b".to_vec()]);
        let mut tested = 0;
        assert!(chain.any_step(b"A%20B", |value| {
            tested += 1;
            value == b"A B"
        }));
        assert_eq!(tested, 2, "stops at the first value that passes");
    }
}
