//! `multipart/form-data` bodies: fields become arguments, file parts become
//! FILES entries, and every part header is kept for the CRS's header checks.

#[derive(Debug, Default)]
pub struct Multipart {
    pub args: Vec<(Vec<u8>, Vec<u8>)>,
    /// (field name, file name).
    pub files: Vec<(Vec<u8>, Vec<u8>)>,
    /// (field name, size in bytes).
    pub file_sizes: Vec<(Vec<u8>, usize)>,
    /// (field name, whole header line).
    pub part_headers: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The boundary parameter of a Content-Type value, quotes removed.
pub fn boundary(content_type: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(content_type);
    text.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').as_bytes().to_vec())
    })
}

pub fn parse(body: &[u8], boundary: &[u8]) -> Result<Multipart, String> {
    if boundary.is_empty() {
        return Err("multipart body without a boundary".into());
    }
    let mut delimiter = b"--".to_vec();
    delimiter.extend_from_slice(boundary);
    let mut out = Multipart::default();
    // The first delimiter may open the body; every one after it starts a line.
    let mut rest = if body.starts_with(&delimiter) && is_delimiter_end(&body[delimiter.len()..]) {
        &body[delimiter.len()..]
    } else {
        let at = next_delimiter(body, &delimiter)
            .ok_or_else(|| "multipart body without its boundary".to_string())?;
        &body[at.1..]
    };
    loop {
        if rest.starts_with(b"--") {
            return Ok(out);
        }
        rest = after_line_end(rest);
        let (start, end) = next_delimiter(rest, &delimiter)
            .ok_or_else(|| "multipart part is not closed by its boundary".to_string())?;
        let part = rest[..start].strip_suffix(b"\r").unwrap_or(&rest[..start]);
        read_part(part, &mut out);
        rest = &rest[end..];
    }
}

/// The next `\n--boundary` that is a whole delimiter line (followed by
/// `--`, or white space and a line end): where its line break is, and where
/// the delimiter ends. A boundary inside a line is content, as parsers that
/// follow RFC 2046 read it.
fn next_delimiter(input: &[u8], delimiter: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(offset) = memchr::memmem::find(&input[from..], delimiter) {
        let at = from + offset;
        let end = at + delimiter.len();
        if at > 0 && input[at - 1] == b'\n' && is_delimiter_end(&input[end..]) {
            return Some((at - 1, end));
        }
        from = at + 1;
    }
    None
}

fn is_delimiter_end(after: &[u8]) -> bool {
    if after.starts_with(b"--") {
        return true;
    }
    let trimmed = after
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .map_or(&after[after.len()..], |at| &after[at..]);
    trimmed.is_empty() || trimmed.starts_with(b"\r\n") || trimmed.starts_with(b"\n")
}

/// Skips the rest of the delimiter line.
fn after_line_end(input: &[u8]) -> &[u8] {
    match memchr::memchr(b'\n', input) {
        Some(at) => &input[at + 1..],
        None => &input[input.len()..],
    }
}

fn read_part(part: &[u8], out: &mut Multipart) {
    let (head, content) = match memchr::memmem::find(part, b"\r\n\r\n") {
        Some(at) => (&part[..at], &part[at + 4..]),
        None => match memchr::memmem::find(part, b"\n\n") {
            Some(at) => (&part[..at], &part[at + 2..]),
            None => (part, &[][..]),
        },
    };
    let lines: Vec<&[u8]> = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
        .collect();
    let mut name = Vec::new();
    let mut filename = None;
    for line in &lines {
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        if line[..colon]
            .trim_ascii()
            .eq_ignore_ascii_case(b"content-disposition")
        {
            for param in split_params(&line[colon + 1..]) {
                let Some(eq) = memchr::memchr(b'=', param) else {
                    continue;
                };
                let key = param[..eq].trim_ascii();
                let value = unquote(param[eq + 1..].trim_ascii());
                if key.eq_ignore_ascii_case(b"name") {
                    name = value;
                } else if key.eq_ignore_ascii_case(b"filename")
                    || key.eq_ignore_ascii_case(b"filename*")
                {
                    filename = Some(value);
                }
            }
        }
    }
    for line in lines {
        out.part_headers.push((name.clone(), line.to_vec()));
    }
    match filename {
        Some(filename) => {
            out.file_sizes.push((name.clone(), content.len()));
            out.files.push((name, filename));
        }
        None => out.args.push((name, content.to_vec())),
    }
}

/// Splits `; `-separated parameters, keeping a `;` inside quotes.
fn split_params(value: &[u8]) -> Vec<&[u8]> {
    let mut params = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (index, &byte) in value.iter().enumerate() {
        match byte {
            b'\\' if quoted && !escaped => {
                escaped = true;
                continue;
            }
            b'"' if !escaped => quoted = !quoted,
            b';' if !quoted => {
                params.push(&value[start..index]);
                start = index + 1;
            }
            _ => {}
        }
        escaped = false;
    }
    params.push(&value[start..]);
    params
}

/// Removes the quotes; `\"` is a quote, other backslashes stay (file names
/// from Windows clients hold them, and the rules look for them).
fn unquote(value: &[u8]) -> Vec<u8> {
    match value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
    {
        Some(inner) => {
            let mut out = Vec::with_capacity(inner.len());
            let mut i = 0;
            while i < inner.len() {
                if inner[i] == b'\\' && inner.get(i + 1) == Some(&b'"') {
                    i += 1;
                }
                out.push(inner[i]);
                i += 1;
            }
            out
        }
        None => value.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_files_and_part_headers() {
        let body = b"--xx\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\none\r\n\
--xx\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.php\"\r\nContent-Type: text/plain\r\n\r\n<?php\r\n--xx--\r\n";
        assert_eq!(
            boundary(b"multipart/form-data; boundary=\"xx\""),
            Some(b"xx".to_vec())
        );
        let parsed = parse(body, b"xx").expect("parses");
        assert_eq!(parsed.args, vec![(b"a".to_vec(), b"one".to_vec())]);
        assert_eq!(parsed.files, vec![(b"f".to_vec(), b"x.php".to_vec())]);
        assert_eq!(parsed.file_sizes, vec![(b"f".to_vec(), 5)]);
        assert_eq!(parsed.part_headers.len(), 3);
        assert_eq!(parsed.part_headers[2].1, b"Content-Type: text/plain");
    }

    #[test]
    fn a_boundary_inside_a_line_is_content() {
        let body = b"--xx\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv--xx--\r\n\
--xx\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n<script>\r\n--xx--\r\n";
        let parsed = parse(body, b"xx").expect("parses");
        assert_eq!(parsed.args.len(), 2, "{:?}", parsed.args);
        assert_eq!(parsed.args[0].1, b"v--xx--");
        assert_eq!(parsed.args[1].1, b"<script>");
    }

    #[test]
    fn an_unclosed_part_is_an_error() {
        assert!(
            parse(
                b"--xx\r\nContent-Disposition: form-data; name=a\r\n\r\nv",
                b"xx"
            )
            .is_err()
        );
    }
}
