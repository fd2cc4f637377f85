//! The cross-origin check, in the manner of Go 1.25's
//! `net/http.CrossOriginProtection`: safe methods pass; otherwise a
//! `Sec-Fetch-Site` of `same-origin` or `none` passes and any other value
//! is refused; without that header (older browsers, non-browser clients)
//! an `Origin` whose host equals the request's host passes, no `Origin`
//! at all passes, and anything else is refused. Trusted origins and bypass
//! paths turn a refusal into a pass.

use crate::bypass::BypassPattern;

/// The request facts the check reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The host the client addressed (Host or :authority).
    pub host: &'a str,
    pub sec_fetch_site: Option<&'a str>,
    pub origin: Option<&'a str>,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `Sec-Fetch-Site` said cross-site or same-site.
    CrossSite,
    /// No `Sec-Fetch-Site`, and an `Origin` of another host.
    OriginMismatch,
}

/// The configured protection.
#[derive(Debug, Clone, Default)]
pub struct CrossOriginProtection {
    trusted: Vec<String>,
    bypass: Vec<BypassPattern>,
}

impl CrossOriginProtection {
    /// Trust `origin` (`scheme://host[:port]`, nothing more).
    pub fn trust(&mut self, origin: &str) -> Result<(), String> {
        let Some((scheme, host)) = origin.split_once("://") else {
            return Err(format!(
                "trusted origin `{origin}` is not scheme://host[:port]"
            ));
        };
        if scheme.is_empty() || host.is_empty() || host.contains(['/', '?', '#', '@']) {
            return Err(format!(
                "trusted origin `{origin}` must have no path, query or fragment"
            ));
        }
        self.trusted.push(origin.to_string());
        Ok(())
    }

    /// Exempt paths matching `pattern`.
    pub fn bypass(&mut self, pattern: &str) -> Result<(), String> {
        self.bypass.push(BypassPattern::parse(pattern)?);
        Ok(())
    }

    /// Check one request.
    pub fn check(&self, facts: &Facts<'_>) -> Result<(), Refusal> {
        if matches!(facts.method, "GET" | "HEAD" | "OPTIONS") {
            return Ok(());
        }
        match facts.sec_fetch_site {
            Some("same-origin" | "none") => return Ok(()),
            Some(_) => {
                return if self.is_exempt(facts) {
                    Ok(())
                } else {
                    Err(Refusal::CrossSite)
                };
            }
            None => {}
        }
        let Some(origin) = facts.origin else {
            // Neither header: not a (modern) browser, so not CSRF.
            return Ok(());
        };
        if origin_host(origin).is_some_and(|host| host == facts.host) {
            return Ok(());
        }
        if self.is_exempt(facts) {
            Ok(())
        } else {
            Err(Refusal::OriginMismatch)
        }
    }

    fn is_exempt(&self, facts: &Facts<'_>) -> bool {
        // A path an upstream could read as another (`/webhooks/..%2faccount`)
        // is never exempt by path.
        (!is_ambiguous(facts.path)
            && self
                .bypass
                .iter()
                .any(|pattern| pattern.matches(facts.path)))
            || facts
                .origin
                .is_some_and(|origin| self.trusted.iter().any(|trusted| trusted == origin))
    }
}

/// Whether `path` has dot segments, encoded dots or slashes, or
/// backslashes: spellings that normalise to another path.
fn is_ambiguous(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.contains("%2e")
        || lower.contains("%2f")
        || lower.contains("%5c")
        || lower.contains('\\')
        || path
            .split('/')
            .any(|segment| segment == "." || segment == "..")
}

/// The `host[:port]` of an origin; `None` for `null` and non-URLs.
fn origin_host(origin: &str) -> Option<&str> {
    let (_, rest) = origin.split_once("://")?;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}
