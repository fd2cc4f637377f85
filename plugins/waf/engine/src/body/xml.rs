//! The XML subset the CRS reads: `XML:/*` is the document's text content
//! (as XPath's string value of the root), `XML://@*` each attribute value.

use crate::transform::Transform;

#[derive(Debug, Default)]
pub struct XmlText {
    pub text: Vec<u8>,
    pub attributes: Vec<Vec<u8>>,
}

pub fn parse(input: &[u8]) -> Result<XmlText, String> {
    let mut out = XmlText::default();
    let mut i = 0;
    let mut saw_element = false;
    while i < input.len() {
        if input[i] != b'<' {
            let end = memchr::memchr(b'<', &input[i..]).map_or(input.len(), |at| i + at);
            if saw_element {
                out.text.extend_from_slice(&decode(&input[i..end]));
            }
            i = end;
            continue;
        }
        let rest = &input[i..];
        if let Some(cdata) = rest.strip_prefix(b"<![CDATA[") {
            let end = memchr::memmem::find(cdata, b"]]>").ok_or("CDATA section not closed")?;
            out.text.extend_from_slice(&cdata[..end]);
            i += 9 + end + 3;
        } else if rest.starts_with(b"<!--") {
            let end = memchr::memmem::find(&rest[4..], b"-->").ok_or("comment not closed")?;
            i += 4 + end + 3;
        } else if rest.starts_with(b"<?") || rest.starts_with(b"<!") {
            let end = memchr::memchr(b'>', rest).ok_or("declaration not closed")?;
            i += end + 1;
        } else {
            let end = tag_end(rest).ok_or("tag not closed")?;
            if !rest.starts_with(b"</") {
                saw_element = true;
                attributes(&rest[1..end], &mut out.attributes);
            }
            i += end + 1;
        }
    }
    if !saw_element {
        return Err("no root element".into());
    }
    Ok(out)
}

/// The `>` closing a tag, skipping quoted attribute values.
fn tag_end(tag: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (index, &byte) in tag.iter().enumerate() {
        match (quote, byte) {
            (None, b'"' | b'\'') => quote = Some(byte),
            (Some(open), _) if open == byte => quote = None,
            (None, b'>') => return Some(index),
            _ => {}
        }
    }
    None
}

fn attributes(tag: &[u8], out: &mut Vec<Vec<u8>>) {
    let mut i = 0;
    while let Some(eq) = memchr::memchr(b'=', &tag[i..]) {
        let mut start = i + eq + 1;
        while tag.get(start).is_some_and(u8::is_ascii_whitespace) {
            start += 1;
        }
        let Some(&quote) = tag.get(start).filter(|q| **q == b'"' || **q == b'\'') else {
            i = start;
            continue;
        };
        let Some(close) = memchr::memchr(quote, &tag[start + 1..]) else {
            return;
        };
        out.push(decode(&tag[start + 1..start + 1 + close]));
        i = start + 1 + close + 1;
    }
}

fn decode(text: &[u8]) -> Vec<u8> {
    Transform::HtmlEntityDecode
        .apply(text)
        .unwrap_or_else(|| text.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes() {
        let xml =
            parse(b"<?xml version=\"1.0\"?><a x='1 &lt;'><b y=\"2\">hi</b><![CDATA[<s>]]></a>")
                .expect("parses");
        assert_eq!(xml.text, b"hi<s>");
        assert_eq!(xml.attributes, vec![b"1 <".to_vec(), b"2".to_vec()]);
        assert!(parse(b"not xml").is_err());
    }
}
