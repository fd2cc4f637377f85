//! Finding the token in a request, and removing it before the upstream.
//! Plain string functions, so they are tested without a gateway.

/// What the request carries.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// One token.
    Token(String),
    /// No token at all: the challenge carries no error (RFC 6750 §3.1).
    Missing,
    /// More than one, or a header with another scheme: `invalid_request`.
    Ambiguous,
}

/// From header values, e.g. `Authorization: Bearer <token>`. `scheme` is
/// matched case-insensitively; empty means the whole value is the token.
pub fn from_header(values: &[String], scheme: &str) -> Found {
    match values {
        [] => Found::Missing,
        [value] => {
            let value = value.trim();
            if scheme.is_empty() {
                return nonempty(value);
            }
            match value.split_once(' ') {
                Some((given, token)) if given.eq_ignore_ascii_case(scheme) => {
                    nonempty(token.trim())
                }
                _ => Found::Ambiguous,
            }
        }
        _ => Found::Ambiguous,
    }
}

/// From `Cookie` header values.
pub fn from_cookie(cookie_headers: &[String], name: &str) -> Found {
    let values: Vec<&str> = cookies(cookie_headers)
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .collect();
    one(&values)
}

/// From the query string.
pub fn from_query(query: Option<&str>, name: &str) -> Found {
    let values: Vec<&str> = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .collect();
    one(&values)
}

/// The `Cookie` header without cookie `name`; `None` if nothing is left.
pub fn cookie_without(cookie_headers: &[String], name: &str) -> Option<String> {
    let kept: Vec<String> = cookies(cookie_headers)
        .filter(|(n, _)| *n != name)
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

fn cookies(headers: &[String]) -> impl Iterator<Item = (&str, &str)> {
    headers
        .iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

fn one(values: &[&str]) -> Found {
    match values {
        [] => Found::Missing,
        [value] => nonempty(value),
        _ => Found::Ambiguous,
    }
}

fn nonempty(token: &str) -> Found {
    if token.is_empty() {
        Found::Missing
    } else {
        Found::Token(token.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bearer_header() {
        assert_eq!(
            from_header(&v(&["bearer abc.def.ghi"]), "Bearer"),
            Found::Token("abc.def.ghi".into())
        );
        assert_eq!(from_header(&v(&[]), "Bearer"), Found::Missing);
        assert_eq!(from_header(&v(&["Basic xyz"]), "Bearer"), Found::Ambiguous);
        assert_eq!(
            from_header(&v(&["Bearer a", "Bearer b"]), "Bearer"),
            Found::Ambiguous
        );
        assert_eq!(from_header(&v(&["raw"]), ""), Found::Token("raw".into()));
    }

    #[test]
    fn cookie_and_query() {
        let cookie = v(&["theme=dark; at=tok.en.x", "other=1"]);
        assert_eq!(from_cookie(&cookie, "at"), Found::Token("tok.en.x".into()));
        assert_eq!(
            cookie_without(&cookie, "at").as_deref(),
            Some("theme=dark; other=1")
        );
        assert_eq!(
            from_query(Some("a=1&access_token=t.o.k"), "access_token"),
            Found::Token("t.o.k".into())
        );
        assert_eq!(
            from_query(Some("access_token=a&access_token=b"), "access_token"),
            Found::Ambiguous
        );
    }
}
