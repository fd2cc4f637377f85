//! Normalising transformations: case, white space, comments, paths, hashes.

use sha1::{Digest, Sha1};

/// White space as C's isspace, plus the non-breaking space (0xa0) browsers
/// also treat as space.
fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0xa0)
}

pub fn lowercase(input: &[u8]) -> Option<Vec<u8>> {
    input
        .iter()
        .any(u8::is_ascii_uppercase)
        .then(|| input.to_ascii_lowercase())
}

pub fn hex_encode(input: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(input.len() * 2);
    for &byte in input {
        out.push(DIGITS[usize::from(byte >> 4)]);
        out.push(DIGITS[usize::from(byte & 0x0f)]);
    }
    out
}

pub fn sha1(input: &[u8]) -> Vec<u8> {
    Sha1::digest(input).to_vec()
}

/// What Windows and Unix shells ignore or treat alike: quoting characters
/// and `^` go, separators become one space, a space before `/` or `(` goes,
/// and letters are lowercased.
pub fn cmd_line(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut in_space = false;
    for &byte in input {
        match byte {
            b'"' | b'\'' | b'\\' | b'^' => {}
            b' ' | b',' | b';' | b'\t' | b'\r' | b'\n' => {
                if !in_space {
                    out.push(b' ');
                    in_space = true;
                }
            }
            b'/' | b'(' => {
                if in_space {
                    out.pop();
                }
                in_space = false;
                out.push(byte);
            }
            other => {
                out.push(other.to_ascii_lowercase());
                in_space = false;
            }
        }
    }
    out
}

pub fn compress_whitespace(input: &[u8]) -> Option<Vec<u8>> {
    if !input.iter().copied().any(is_space) {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut in_space = false;
    for &byte in input {
        if is_space(byte) {
            if !in_space {
                out.push(b' ');
            }
            in_space = true;
        } else {
            out.push(byte);
            in_space = false;
        }
    }
    Some(out)
}

pub fn remove_whitespace(input: &[u8]) -> Option<Vec<u8>> {
    input
        .iter()
        .copied()
        .any(is_space)
        .then(|| input.iter().copied().filter(|&b| !is_space(b)).collect())
}

pub fn remove_nulls(input: &[u8]) -> Option<Vec<u8>> {
    memchr::memchr(0, input)?;
    Some(input.iter().copied().filter(|&b| b != 0).collect())
}

pub fn trim(input: &[u8]) -> Option<Vec<u8>> {
    let start = input
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(input.len());
    let end = input
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |last| last + 1);
    (start > 0 || end < input.len()).then(|| input[start..end].to_vec())
}

/// Each `/* ... */` (or an unterminated `/* ...`) becomes one space; a lone
/// `*/` stays.
pub fn replace_comments(input: &[u8]) -> Option<Vec<u8>> {
    memchr::memmem::find(input, b"/*")?;
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i..].starts_with(b"/*") {
            match memchr::memmem::find(&input[i + 2..], b"*/") {
                Some(end) => i += 2 + end + 2,
                None => i = input.len(),
            }
            out.push(b' ');
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Drops the comment markers `/*`, `*/`, `--` and `#`.
pub fn remove_comment_chars(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    let mut changed = false;
    while i < input.len() {
        let rest = &input[i..];
        if rest.starts_with(b"/*") || rest.starts_with(b"*/") || rest.starts_with(b"--") {
            i += 2;
            changed = true;
        } else if rest[0] == b'#' {
            i += 1;
            changed = true;
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    changed.then_some(out)
}

/// Collapses `//`, drops `.` segments and resolves `..` (never above the root
/// of an absolute path). With `windows`, `\` is a separator too.
pub fn path(input: &[u8], windows: bool) -> Option<Vec<u8>> {
    let original = input;
    let unified: Vec<u8>;
    let input = if windows && memchr::memchr(b'\\', input).is_some() {
        unified = input
            .iter()
            .map(|&b| if b == b'\\' { b'/' } else { b })
            .collect();
        &unified[..]
    } else {
        input
    };
    if memchr::memchr(b'/', input).is_none() {
        return (input != original).then(|| input.to_vec());
    }
    let absolute = input.first() == Some(&b'/');
    let trailing = input.len() > 1 && input.last() == Some(&b'/');
    let mut segments: Vec<&[u8]> = Vec::new();
    for segment in input.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => match segments.last() {
                Some(last) if *last != b".." => {
                    segments.pop();
                }
                _ if absolute => {}
                _ => segments.push(segment),
            },
            other => segments.push(other),
        }
    }
    let mut out = Vec::with_capacity(input.len());
    if absolute {
        out.push(b'/');
    }
    for (index, segment) in segments.iter().enumerate() {
        if index > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(segment);
    }
    if trailing && !segments.is_empty() {
        out.push(b'/');
    }
    (out != original).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmd_line_folds_shell_tricks() {
        assert_eq!(
            cmd_line(b"C^at   'ETC' /p\"ass\\wd ; (x)"),
            b"cat etc/passwd(x)"
        );
    }

    #[test]
    fn comments_and_white_space() {
        assert_eq!(
            replace_comments(b"a/*x*/b/*open").expect("changed"),
            b"a b "
        );
        assert_eq!(
            remove_comment_chars(b"a--b#c/*d*/").expect("changed"),
            b"abcd"
        );
        assert_eq!(compress_whitespace(b"a \t\n b").expect("changed"), b"a b");
        assert_eq!(remove_whitespace(b"a \t\n b").expect("changed"), b"ab");
    }

    #[test]
    fn paths_resolve_dot_segments() {
        assert_eq!(
            path(b"/a/./b/../../../etc//passwd", false).expect("changed"),
            b"/etc/passwd"
        );
        assert_eq!(
            path(b"..\\..\\boot.ini", true).expect("changed"),
            b"../../boot.ini"
        );
        assert_eq!(path(b"/a/b/", false), None);
    }
}
