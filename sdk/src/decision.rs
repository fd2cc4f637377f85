//! Shorthands for building decisions.

use crate::{Decision, Denial, Edit};

impl Decision {
    /// Let the request continue unchanged.
    pub fn allow() -> Self {
        Decision::Continue(Vec::new())
    }

    /// Let the request continue after applying `edits`.
    pub fn allow_with(edits: Vec<Edit>) -> Self {
        Decision::Continue(edits)
    }

    /// Answer with `status` and a small JSON body `{"error": message}`.
    /// `reason` goes to logs and metrics only.
    pub fn deny_json(status: u16, reason: &str, message: &str) -> Self {
        let body = format!("{{\"error\":{}}}", json_string(message));
        Decision::Deny(Denial {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into_bytes(),
            reason: reason.into(),
        })
    }

    #[doc(hidden)]
    pub fn not_configured() -> Self {
        Self::deny_json(503, "plugin-not-configured", "service unavailable")
    }
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::json_string;

    #[test]
    fn json_strings_escape_quotes_and_controls() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
