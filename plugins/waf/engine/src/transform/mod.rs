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
            Self::CmdLine => Some(normalize::cmd_line(input)),
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

/// A rule's transformation list, numbered so transformed values can be
/// cached per (value, chain) for the whole transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformChain {
    pub steps: Vec<Transform>,
    pub id: u16,
}

impl TransformChain {
    pub fn new(steps: Vec<Transform>) -> Self {
        TransformChain { steps, id: 0 }
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn apply<'a>(&self, input: &'a [u8]) -> Cow<'a, [u8]> {
        let mut value = Cow::Borrowed(input);
        for step in &self.steps {
            if let Some(changed) = step.apply(&value) {
                value = Cow::Owned(changed);
            }
        }
        value
    }

    /// Every intermediate value (for `multiMatch`), the input first.
    pub fn apply_each<'a>(&self, input: &'a [u8]) -> Vec<Cow<'a, [u8]>> {
        let mut values = vec![Cow::Borrowed(input)];
        for step in &self.steps {
            let last = values.last().map(|v| v.as_ref()).unwrap_or(input);
            if let Some(changed) = step.apply(last) {
                values.push(Cow::Owned(changed));
            }
        }
        values
    }
}
