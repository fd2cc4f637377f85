//! Which origins a route shares its responses with: exact origins, or
//! regular expressions, always matched against the whole origin, so a
//! pattern meant for `https://app.example.com` cannot also admit
//! `https://app.example.com.evil.test`.

use regex_lite::Regex;

/// The allowed origins of one route.
#[derive(Debug, Clone)]
pub enum Origins {
    /// Any origin, answered with `*` (never with credentials).
    Any,
    /// These origins and patterns.
    Listed {
        exact: Vec<String>,
        patterns: Vec<Regex>,
    },
}

impl Origins {
    /// Build from settings. `null` is refused: it is what sandboxed frames
    /// and `data:` documents send, so allowing it allows everyone.
    pub fn new(exact: &[String], patterns: &[String]) -> Result<Self, String> {
        if exact.iter().any(|o| o == "*") {
            if exact.len() > 1 || !patterns.is_empty() {
                return Err("allow_origins: `*` cannot be combined with other origins".into());
            }
            return Ok(Self::Any);
        }
        let mut listed = Vec::new();
        for origin in exact {
            listed.push(normalise(origin).map_err(|e| format!("allow_origins: {e}"))?);
        }
        let mut compiled = Vec::new();
        for pattern in patterns {
            // Anchored here, around the whole expression: `^a|b$` written
            // by hand would leave each alternative half-open.
            let inner = pattern.strip_prefix('^').unwrap_or(pattern);
            let inner = inner.strip_suffix('$').unwrap_or(inner);
            compiled.push(
                Regex::new(&format!("^(?:{inner})$"))
                    .map_err(|e| format!("allow_origin_patterns: `{pattern}`: {e}"))?,
            );
        }
        Ok(Self::Listed {
            exact: listed,
            patterns: compiled,
        })
    }

    /// Whether `origin` (the request's Origin header) is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Listed { exact, patterns } => {
                origin != "null"
                    && (exact
                        .iter()
                        .any(|allowed| allowed.eq_ignore_ascii_case(origin))
                        || patterns.iter().any(|pattern| pattern.is_match(origin)))
            }
        }
    }

    /// Whether the wildcard is in use.
    pub fn is_any(&self) -> bool {
        matches!(self, Self::Any)
    }
}

/// An origin as browsers serialise it: `scheme://host[:port]`, nothing else.
pub fn normalise(origin: &str) -> Result<String, String> {
    if origin == "null" {
        return Err("`null` is not allowed: sandboxed documents of any site send it".into());
    }
    let Some((scheme, host)) = origin.split_once("://") else {
        return Err(format!(
            "`{origin}` is not an origin (scheme://host[:port])"
        ));
    };
    let valid_scheme = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let valid_host = !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']);
    if !valid_scheme || !valid_host {
        return Err(format!(
            "`{origin}` is not an origin (scheme://host[:port], no path)"
        ));
    }
    Ok(origin.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::{Origins, normalise};

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exact_origins_and_anchored_patterns_match_whole_origins() {
        let origins = Origins::new(
            &strings(&["https://app.example.com"]),
            &strings(&[r"^https://[a-z0-9-]+\.preview\.example\.com$"]),
        )
        .expect("valid");
        assert!(origins.allows("https://app.example.com"));
        assert!(origins.allows("https://pr-12.preview.example.com"));
        assert!(!origins.allows("https://app.example.com.evil.test"));
        assert!(!origins.allows("https://evil.test/?https://pr-12.preview.example.com"));
        assert!(!origins.allows("http://app.example.com"));
        assert!(!origins.allows("null"));
    }

    #[test]
    fn risky_settings_are_refused() {
        let alternation = Origins::new(
            &[],
            &strings(&[r"^https://a\.example\.com|https://b\.example\.com$"]),
        )
        .expect("valid");
        assert!(alternation.allows("https://a.example.com"));
        assert!(
            !alternation.allows("https://a.example.com.evil.test"),
            "anchored around the whole expression"
        );
        assert!(Origins::new(&strings(&["null"]), &[]).is_err());
        assert!(Origins::new(&strings(&["https://a.example/"]), &[]).is_err());
        assert!(Origins::new(&strings(&["*", "https://a.example"]), &[]).is_err());
        assert!(normalise("app.example.com").is_err());
    }
}
