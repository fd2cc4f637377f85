//! Masking a JSON body in one pass over its bytes, without building a
//! document: strings and numbers are checked where they lie, and only the
//! ones that change are rewritten; everything else is copied as it came,
//! so a body with nothing to mask costs one scan and no allocation. The
//! nesting is tracked on a heap stack, so depth costs memory, not
//! recursion. Anything this scanner does not accept as JSON is handed back
//! ([`NotJson`]) for the slower path to judge.

use std::borrow::Cow;

use crate::detect::Detectors;
use crate::json_path::{JsonPath, Segment};
use crate::style::Style;

/// The deepest nesting read when a field is chosen by a `..` path (a
/// deeper body is refused: with fields, the refusal is a 502).
const MAX_DEPTH_WITH_DESCENDANTS: usize = 512;

/// The body is not JSON this scanner accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotJson;

enum Frame<'b> {
    /// The key of the member being read.
    Object { key: Option<Cow<'b, str>> },
    /// The index of the item being read.
    Array { index: usize },
}

/// The masking rules a scan applies.
pub struct Rules<'a> {
    pub detectors: &'a Detectors,
    pub fields: &'a [JsonPath],
    pub style: &'a Style,
}

/// `body` masked, or `None` if nothing in it needed masking.
pub fn mask(body: &[u8], rules: &Rules<'_>) -> Result<Option<Vec<u8>>, NotJson> {
    // Validated once, so strings are sliced out of it without checks of
    // their own (quotes are ASCII, so they sit on character boundaries).
    let text = std::str::from_utf8(body).map_err(|_| NotJson)?;
    // One pass of the combined pattern over the whole body finds where
    // candidates can be; with none, no field to mask and no escape that
    // could hide one, there is nothing to do.
    let candidates = rules.detectors.candidates(text);
    if candidates.is_empty() && rules.fields.is_empty() && memchr::memchr(b'\\', body).is_none() {
        return Ok(None);
    }
    Scan {
        text,
        candidates,
        next_candidate: 0,
        bounded_depth: rules.fields.iter().any(JsonPath::has_descendant),
        body,
        at: 0,
        copied: 0,
        out: Vec::new(),
        changed: false,
        rules,
    }
    .run()
}

struct Scan<'b, 'r> {
    /// The body as text (validated UTF-8) and as bytes.
    text: &'b str,
    body: &'b [u8],
    /// Where the combined pattern matched in the whole body, in order.
    candidates: Vec<std::ops::Range<usize>>,
    next_candidate: usize,
    /// Whether nesting is bounded (see `MAX_DEPTH_WITH_DESCENDANTS`).
    bounded_depth: bool,
    at: usize,
    /// Bytes of `body` before this are already in `out`.
    copied: usize,
    out: Vec<u8>,
    changed: bool,
    rules: &'r Rules<'r>,
}

/// What the scanner expects next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Next {
    /// A value (top level, after `,` in an array, after `:`).
    Value,
    /// A value or `]` (just after `[`).
    ValueOrClose,
    /// A key or `}` (just after `{`).
    KeyOrClose,
    /// A key (after `,` in an object).
    Key,
    /// `,` or the container's close.
    After,
}

impl<'b> Scan<'b, '_> {
    fn run(mut self) -> Result<Option<Vec<u8>>, NotJson> {
        let mut stack: Vec<Frame<'b>> = Vec::new();
        // The position of the value being read: one segment per open frame.
        let mut path: Vec<Segment<'b>> = Vec::new();
        // The stack depth of a value a chosen field covers: everything in it
        // is masked whole.
        let mut forced_at: Option<usize> = None;
        let mut next = Next::Value;
        loop {
            self.skip_space();
            let byte = *self.body.get(self.at).ok_or(NotJson)?;
            match next {
                Next::KeyOrClose | Next::Key if byte == b'"' => {
                    let (start, end, escaped) = self.string()?;
                    let raw = self.slice(start, end)?;
                    // Keys can hold data too (`{"ann@example.com": ...}`).
                    if raw.len() >= 6
                        && (escaped || self.has_candidate(start, end))
                        && let Some(masked) = self.mask_text(&decode(raw, escaped)?)
                    {
                        self.replace(start - 1, end + 1, &json_string(&masked));
                    }
                    let key = if self.rules.fields.is_empty() {
                        Cow::Borrowed("")
                    } else {
                        decode(raw, escaped)?
                    };
                    self.skip_space();
                    self.expect(b':')?;
                    if let Some(Frame::Object { key: slot, .. }) = stack.last_mut() {
                        *slot = Some(key);
                    }
                    next = Next::Value;
                    continue;
                }
                Next::KeyOrClose if byte == b'}' => {}
                Next::ValueOrClose if byte == b']' => {}
                Next::KeyOrClose | Next::Key => return Err(NotJson),
                Next::After => {
                    match (stack.last_mut(), byte) {
                        (Some(Frame::Array { index }), b',') => {
                            *index += 1;
                            next = Next::Value;
                        }
                        (Some(Frame::Object { .. }), b',') => next = Next::Key,
                        (Some(Frame::Array { .. }), b']') | (Some(Frame::Object { .. }), b'}') => {}
                        _ => return Err(NotJson),
                    }
                    if next != Next::After {
                        self.at += 1;
                        continue;
                    }
                }
                Next::Value | Next::ValueOrClose => {
                    // Positions matter only to chosen fields.
                    if !self.rules.fields.is_empty()
                        && let Some(frame) = stack.last_mut()
                    {
                        path.push(match frame {
                            // The key is read once, for this value: move it.
                            Frame::Object { key } => Segment::Key(key.take().unwrap_or_default()),
                            Frame::Array { index } => Segment::Index(*index),
                        });
                    }
                    if forced_at.is_none()
                        && self.rules.fields.iter().any(|field| field.matches(&path))
                    {
                        forced_at = Some(stack.len());
                    }
                    match byte {
                        // `..` paths are matched against the whole path of
                        // every value; bound the depth that costs.
                        b'{' | b'['
                            if self.bounded_depth && stack.len() >= MAX_DEPTH_WITH_DESCENDANTS =>
                        {
                            return Err(NotJson);
                        }
                        b'{' => {
                            self.at += 1;
                            stack.push(Frame::Object { key: None });
                            next = Next::KeyOrClose;
                            continue;
                        }
                        b'[' => {
                            self.at += 1;
                            stack.push(Frame::Array { index: 0 });
                            next = Next::ValueOrClose;
                            continue;
                        }
                        _ => self.scalar(byte, forced_at.is_some())?,
                    }
                    if self.end_value(&stack, &mut path, &mut forced_at) {
                        break;
                    }
                    next = Next::After;
                    continue;
                }
            }
            // A close: `}` or `]`.
            self.at += 1;
            stack.pop();
            if self.end_value(&stack, &mut path, &mut forced_at) {
                break;
            }
            next = Next::After;
        }
        self.skip_space();
        if self.at != self.body.len() {
            return Err(NotJson);
        }
        if !self.changed {
            return Ok(None);
        }
        self.out.extend_from_slice(&self.body[self.copied..]);
        Ok(Some(self.out))
    }

    /// A value at depth `stack.len()` ended. True when it was the document.
    fn end_value(
        &self,
        stack: &[Frame<'b>],
        path: &mut Vec<Segment<'b>>,
        forced_at: &mut Option<usize>,
    ) -> bool {
        if *forced_at == Some(stack.len()) {
            *forced_at = None;
        }
        if stack.is_empty() {
            return true;
        }
        if !self.rules.fields.is_empty() {
            path.pop();
        }
        false
    }

    /// A string, number or literal starting with `byte`.
    fn scalar(&mut self, byte: u8, forced: bool) -> Result<(), NotJson> {
        match byte {
            b'"' => {
                let (start, end, escaped) = self.string()?;
                let raw = self.slice(start, end)?;
                // Escapes can hide a candidate from the whole-body pass.
                if forced || (raw.len() >= 6 && (escaped || self.has_candidate(start, end))) {
                    let text = decode(raw, escaped)?;
                    let masked = if forced {
                        Some(self.rules.style.apply(&text))
                    } else {
                        self.mask_text(&text)
                    };
                    // An empty chosen field masks to itself: no change.
                    if let Some(masked) = masked.filter(|m| *m != text) {
                        self.replace(start - 1, end + 1, &json_string(&masked));
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = self.at;
                while self
                    .body
                    .get(self.at)
                    .is_some_and(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
                {
                    self.at += 1;
                }
                let raw = std::str::from_utf8(&self.body[start..self.at]).map_err(|_| NotJson)?;
                raw.parse::<f64>().map_err(|_| NotJson)?;
                let masked = if forced {
                    Some(self.rules.style.apply(raw))
                } else if raw.len() >= 7
                    && !raw.contains(['.', 'e', 'E'])
                    && self.has_candidate(start, self.at)
                {
                    // A card number or SSN is sometimes sent as a number.
                    self.mask_text(raw)
                } else {
                    None
                };
                if let Some(masked) = masked {
                    self.replace(start, self.at, &json_string(&masked));
                }
            }
            b't' | b'f' | b'n' => {
                let literal: &[u8] = match byte {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                if !self.body[self.at..].starts_with(literal) {
                    return Err(NotJson);
                }
                let start = self.at;
                self.at += literal.len();
                if forced && byte != b'n' {
                    let masked = self.rules.style.apply("****");
                    self.replace(start, self.at, &json_string(&masked));
                }
            }
            _ => return Err(NotJson),
        }
        Ok(())
    }

    /// Whether the whole-body pass found a candidate starting in
    /// `start..end`. Values are visited in order, so the cursor only moves
    /// forward.
    fn has_candidate(&mut self, start: usize, end: usize) -> bool {
        while self
            .candidates
            .get(self.next_candidate)
            .is_some_and(|c| c.start < start)
        {
            self.next_candidate += 1;
        }
        self.candidates
            .get(self.next_candidate)
            .is_some_and(|c| c.start < end)
    }

    fn mask_text(&self, text: &str) -> Option<String> {
        self.rules.detectors.mask(text, self.rules.style)
    }

    /// Replace `body[start..end]` with `with` in the output.
    fn replace(&mut self, start: usize, end: usize, with: &str) {
        if !self.changed {
            self.out.reserve(self.body.len() + 64);
            self.changed = true;
        }
        self.out.extend_from_slice(&self.body[self.copied..start]);
        self.out.extend_from_slice(with.as_bytes());
        self.copied = end;
    }

    /// A string starting at `self.at` (the opening quote): the range of its
    /// contents and whether it has escapes; `self.at` moves past it.
    fn string(&mut self) -> Result<(usize, usize, bool), NotJson> {
        let start = self.at + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            let offset = memchr::memchr2(b'"', b'\\', &self.body[i..]).ok_or(NotJson)?;
            i += offset;
            if self.body[i] == b'"' {
                break;
            }
            escaped = true;
            i += 2;
            if i > self.body.len() {
                return Err(NotJson);
            }
        }
        if self.body[start..i].iter().any(|&b| b < 0x20) {
            return Err(NotJson);
        }
        self.at = i + 1;
        Ok((start, i, escaped))
    }

    /// `text[start..end]`, between two ASCII delimiters.
    fn slice(&self, start: usize, end: usize) -> Result<&'b str, NotJson> {
        self.text.get(start..end).ok_or(NotJson)
    }

    fn skip_space(&mut self) {
        while self
            .body
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
        {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), NotJson> {
        if self.body.get(self.at) != Some(&byte) {
            return Err(NotJson);
        }
        self.at += 1;
        Ok(())
    }
}

/// The text of a string's raw contents, borrowed unless it has escapes.
fn decode(raw: &str, escaped: bool) -> Result<Cow<'_, str>, NotJson> {
    if !escaped {
        return Ok(Cow::Borrowed(raw));
    }
    let quoted = format!("\"{raw}\"");
    serde_json::from_str::<String>(&quoted)
        .map(Cow::Owned)
        .map_err(|_| NotJson)
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}
