//! What a policy counts requests by.

use std::borrow::Cow;

use http::header::HeaderName;

use crate::context::RequestContext;
use crate::plugin::view::RequestView;

/// The key of a rate-limit policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The client's address (after trusted-proxy resolution).
    ClientIp,
    /// The value of a request header; requests without it share one bucket.
    Header(HeaderName),
    /// The route: all clients together.
    Route,
    /// The principal an authentication plugin set; requests without one
    /// share one bucket.
    Consumer,
}

/// The bucket shared by requests that lack the key's header or principal.
const MISSING: &str = "\u{0}missing";

impl KeySource {
    /// Parse `ip`, `route`, `consumer` or `header:NAME`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "ip" => Ok(KeySource::ClientIp),
            "route" => Ok(KeySource::Route),
            "consumer" => Ok(KeySource::Consumer),
            _ => match text.strip_prefix("header:") {
                Some(name) => HeaderName::from_bytes(name.trim().as_bytes())
                    .map(KeySource::Header)
                    .map_err(|_| format!("{name:?} is not a valid header name")),
                None => Err(format!(
                    "{text:?} is not a key; use \"ip\", \"route\", \"consumer\" or \"header:NAME\""
                )),
            },
        }
    }

    /// This request's key.
    pub fn key<'a>(&self, request: &'a RequestView, context: &'a RequestContext) -> Cow<'a, str> {
        match self {
            KeySource::ClientIp => Cow::Owned(crate::ip_text::ip_string(request.client_ip)),
            KeySource::Header(name) => {
                match request.headers.get(name).and_then(|v| v.to_str().ok()) {
                    Some(value) => Cow::Borrowed(value),
                    None => Cow::Borrowed(MISSING),
                }
            }
            KeySource::Route => Cow::Borrowed(&request.route_id),
            KeySource::Consumer => Cow::Borrowed(context.principal.as_deref().unwrap_or(MISSING)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse() {
        assert_eq!(KeySource::parse("ip"), Ok(KeySource::ClientIp));
        assert_eq!(
            KeySource::parse("header:X-Api-Key"),
            Ok(KeySource::Header(HeaderName::from_static("x-api-key")))
        );
        assert!(KeySource::parse("header:bad name").is_err());
        assert!(KeySource::parse("cookie").is_err());
    }
}
