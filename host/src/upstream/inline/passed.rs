//! A response's fields passed from the upstream's head to the client as
//! they came.
//!
//! Each field of a proxied response was made a `HeaderName` and a checked
//! `HeaderValue` and hashed into a `HeaderMap` (about 2.5k instructions
//! for the eight fields a typical static response has) only to be written
//! out again, in the same order, by the gateway's own HTTP/1.1 server.
//! When nothing reads them, they stay in the bytes of the head they came
//! in and are written from there; edits that need not read them (a kept
//! response-headers decision's) drop or take out only the fields they
//! name. httparse checked names and values by the rules `HeaderName` and
//! `HeaderValue` apply, so the bytes are those the map would have held;
//! names keep the upstream's spelling (as nginx passes them on), where
//! the map lowercased them.

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderName, HeaderValue};
use smallvec::SmallVec;

use super::field_name::field_name;

/// Fields a merged map has room for beyond the response's own.
const EDIT_ROOM: usize = 4;

/// Where a field's name and value lie in the head: start and end of each.
#[derive(Debug, Clone, Copy)]
struct Span {
    name: (u16, u16),
    value: (u16, u16),
}

/// The fields of a response head that go to the client unchanged: all
/// but the hop-by-hop ones and `Content-Length`, whose agreed value is
/// kept as a number.
#[derive(Debug)]
pub struct PassedFields {
    head: Bytes,
    /// In the box itself (no second allocation) for the fields most
    /// responses have.
    fields: SmallVec<[Span; 12]>,
    length: Option<u64>,
    has_date: bool,
}

impl PassedFields {
    /// Fields of `head`, none yet, with the response's `Content-Length`;
    /// `head` back when it is too long for the positions kept (64 KiB).
    /// Boxed: a response moves through several futures on its way out,
    /// and a box moves as one word (inline, these fields cost a proxied
    /// request more in copies than they saved).
    pub fn new(head: Bytes, length: Option<u64>) -> Result<Box<Self>, Bytes> {
        if u16::try_from(head.len()).is_err() {
            return Err(head);
        }
        Ok(Box::new(Self {
            head,
            fields: SmallVec::new(),
            length,
            has_date: false,
        }))
    }

    /// Pass on the field whose name and value lie at these positions of
    /// the head; positions outside it are ignored.
    pub fn push(&mut self, name: (usize, usize), value: (usize, usize)) {
        let within = |(start, end): (usize, usize)| {
            (start <= end && end <= self.head.len())
                .then(|| Some((u16::try_from(start).ok()?, u16::try_from(end).ok()?)))
                .flatten()
        };
        if let (Some(name), Some(value)) = (within(name), within(value)) {
            let span = Span { name, value };
            self.has_date |= self.name(span).eq_ignore_ascii_case(b"date");
            self.fields.push(span);
        }
    }

    /// The response's `Content-Length`, if it had one.
    pub fn length(&self) -> Option<u64> {
        self.length
    }

    /// Whether a `Date` field is among them.
    pub fn has_date(&self) -> bool {
        self.has_date
    }

    /// Each field's name, as the upstream spelled it, and value.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.fields
            .iter()
            .map(|&span| (self.name(span), self.value(span)))
    }

    /// The value of the first field called `name` (any case).
    pub fn first(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, value)| value)
    }

    /// Move the fields into `headers`, where the gateway may have set
    /// fields already: those replace the upstream's of the same name, as
    /// setting them in a map holding the upstream's fields would have.
    pub fn merge_into(self, headers: &mut HeaderMap) {
        // Fields are merged for a response phase, whose edits (security
        // headers, most often) would otherwise grow the map and hash
        // every field again: room for a few is made now.
        let capacity = self.fields.len() + 1 + headers.len() + EDIT_ROOM;
        let set_by_gateway = std::mem::replace(headers, HeaderMap::with_capacity(capacity));
        if let Some(length) = self.length {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
        }
        for &span in &self.fields {
            let (start, end) = span.value;
            // httparse checked both by the rules these apply: neither
            // fails, but a field that did would be left out, not sent
            // unchecked.
            if let (Ok(name), Ok(value)) = (
                field_name(self.name(span)),
                crate::field_value::field_value(
                    self.head.slice(usize::from(start)..usize::from(end)),
                ),
            ) {
                headers.append(name, value);
            }
        }
        let mut last = None;
        for (name, value) in set_by_gateway {
            match name {
                Some(name) => {
                    headers.insert(name.clone(), value);
                    last = Some(name);
                }
                // Another value of the name before.
                None => {
                    if let Some(name) = &last {
                        headers.append(name, value);
                    }
                }
            }
        }
    }

    /// Drop every field called `name`: a response phase removed or set it.
    pub fn remove(&mut self, name: &HeaderName) {
        let name = name.as_str().as_bytes();
        let head = &self.head;
        self.fields
            .retain(|span| !span_name(head, *span).eq_ignore_ascii_case(name));
        self.has_date = self
            .fields
            .iter()
            .any(|&span| self.name(span).eq_ignore_ascii_case(b"date"));
    }

    /// Move the fields called `name` into `headers`, after which a value
    /// appended there follows the upstream's. Where `headers` has the name
    /// already, the upstream's fields were replaced and are only dropped.
    pub fn move_into(&mut self, name: &HeaderName, headers: &mut HeaderMap) {
        if !headers.contains_key(name) {
            for &span in &self.fields {
                let (start, end) = span.value;
                if self
                    .name(span)
                    .eq_ignore_ascii_case(name.as_str().as_bytes())
                    && let Ok(value) = crate::field_value::field_value(
                        self.head.slice(usize::from(start)..usize::from(end)),
                    )
                {
                    headers.append(name.clone(), value);
                }
            }
        }
        self.remove(name);
    }

    /// The fields of `head` (a whole head's text) at the positions of
    /// each `name: value` line, for tests.
    #[cfg(test)]
    pub(crate) fn from_lines(
        head: &'static str,
        length: Option<u64>,
        lines: &[(&str, &str)],
    ) -> Box<Self> {
        let mut fields =
            Self::new(Bytes::from_static(head.as_bytes()), length).expect("a short head");
        for (name, value) in lines {
            let line = format!("{name}: {value}\r\n");
            let start = head.find(&line).expect("line in head");
            let value_start = start + name.len() + 2;
            fields.push(
                (start, start + name.len()),
                (value_start, value_start + value.len()),
            );
        }
        fields
    }

    /// A response's fields for tests: `Server`, `X-Request-Id` and two
    /// `Set-Cookie`s, upstream spelling, with a length of 5.
    #[cfg(test)]
    pub(crate) fn sample() -> Box<Self> {
        Self::from_lines(
            SAMPLE_HEAD,
            Some(5),
            &[
                ("Server", "origin"),
                ("X-Request-Id", "upstream"),
                ("Set-Cookie", "a=1"),
                ("Set-Cookie", "b=2"),
            ],
        )
    }

    fn name(&self, span: Span) -> &[u8] {
        span_name(&self.head, span)
    }

    fn value(&self, span: Span) -> &[u8] {
        self.head
            .get(usize::from(span.value.0)..usize::from(span.value.1))
            .unwrap_or_default()
    }
}

#[cfg(test)]
const SAMPLE_HEAD: &str = "HTTP/1.1 200 OK\r\nServer: origin\r\nDate: Mon, 30 Nov 2026 15:00:00 GMT\r\nX-Request-Id: upstream\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 5\r\n\r\n";

fn span_name(head: &[u8], span: Span) -> &[u8] {
    head.get(usize::from(span.name.0)..usize::from(span.name.1))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passed(
        head: &'static str,
        length: Option<u64>,
        lines: &[(&str, &str)],
    ) -> Box<PassedFields> {
        PassedFields::from_lines(head, length, lines)
    }

    const HEAD: &str = SAMPLE_HEAD;

    #[test]
    fn the_first_field_of_a_name_is_found_in_any_case() {
        let fields = passed(
            HEAD,
            Some(5),
            &[
                ("Server", "origin"),
                ("Set-Cookie", "a=1"),
                ("Set-Cookie", "b=2"),
            ],
        );
        assert_eq!(fields.first("set-cookie"), Some(&b"a=1"[..]));
        assert_eq!(fields.first("SERVER"), Some(&b"origin"[..]));
        assert_eq!(fields.first("content-type"), None);
    }

    #[test]
    fn fields_are_given_as_the_upstream_spelled_them() {
        let fields = passed(
            HEAD,
            Some(5),
            &[("Server", "origin"), ("Set-Cookie", "a=1")],
        );
        let seen: Vec<_> = fields.iter().collect();
        assert_eq!(
            seen,
            [
                (&b"Server"[..], &b"origin"[..]),
                (&b"Set-Cookie"[..], &b"a=1"[..])
            ]
        );
        assert_eq!(fields.length(), Some(5));
        assert!(!fields.has_date());
        let dated = passed(HEAD, None, &[("Date", "Mon, 30 Nov 2026 15:00:00 GMT")]);
        assert!(dated.has_date());
    }

    #[test]
    fn positions_outside_the_head_are_ignored() {
        let mut fields = passed(HEAD, None, &[("Server", "origin")]);
        fields.push((0, 4), (HEAD.len(), HEAD.len() + 1));
        fields.push((5, 4), (6, 7));
        assert_eq!(fields.iter().count(), 1);
    }

    #[test]
    fn a_head_too_long_for_the_positions_is_not_passed() {
        let long = Bytes::from(vec![b'a'; usize::from(u16::MAX) + 1]);
        assert!(PassedFields::new(long, None).is_err());
    }

    #[test]
    fn removed_and_moved_fields_leave_the_others_as_they_came() {
        let lines = [
            ("Server", "origin"),
            ("Date", "Mon, 30 Nov 2026 15:00:00 GMT"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
        ];
        let mut fields = passed(HEAD, Some(5), &lines);
        fields.remove(&HeaderName::from_static("date"));
        assert!(!fields.has_date());
        let mut headers = HeaderMap::new();
        fields.move_into(&HeaderName::from_static("set-cookie"), &mut headers);
        assert_eq!(
            headers.get_all("set-cookie").iter().collect::<Vec<_>>(),
            ["a=1", "b=2"]
        );
        let names: Vec<&[u8]> = fields.iter().map(|(name, _)| name).collect();
        assert_eq!(names, [&b"Server"[..]]);

        // A name the gateway set already replaced the upstream's fields:
        // they are dropped, not added to its value.
        let mut fields = passed(HEAD, Some(5), &lines);
        let mut headers = HeaderMap::new();
        headers.insert("set-cookie", HeaderValue::from_static("gateway=1"));
        fields.move_into(&HeaderName::from_static("set-cookie"), &mut headers);
        assert_eq!(headers.get_all("set-cookie").iter().count(), 1);
        assert_eq!(fields.iter().count(), 2);
        assert!(fields.has_date());
    }

    #[test]
    fn merged_fields_give_way_to_those_the_gateway_set() {
        let fields = PassedFields::sample();
        let mut headers = HeaderMap::new();
        let id = HeaderName::from_static("x-request-id");
        headers.insert(id.clone(), HeaderValue::from_static("gateway"));
        headers.append("x-two", HeaderValue::from_static("1"));
        headers.append("x-two", HeaderValue::from_static("2"));
        fields.merge_into(&mut headers);
        assert_eq!(headers.get_all(&id).iter().collect::<Vec<_>>(), ["gateway"]);
        assert_eq!(
            headers.get_all("x-two").iter().collect::<Vec<_>>(),
            ["1", "2"]
        );
        assert_eq!(
            headers.get_all("set-cookie").iter().collect::<Vec<_>>(),
            ["a=1", "b=2"]
        );
        assert_eq!(headers["server"], "origin");
        assert_eq!(headers[CONTENT_LENGTH], "5");
        assert_eq!(headers.len(), 7, "values, not names");
    }
}
