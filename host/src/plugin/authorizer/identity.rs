//! Identity sources: where an authorizer's inputs are read from a request.

use std::str::FromStr;

use crate::context::RequestContext;
use crate::plugin::view::RequestView;

/// One identity source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `header:NAME`: the header's one value (repeated: refused).
    Header(http::HeaderName),
    /// `query:NAME`: the parameter's one value, as sent (repeated: refused).
    Query(String),
    /// `context:KEY`: an entry an earlier plugin set.
    Context(String),
    /// `principal`: the principal an earlier plugin set.
    Principal,
    /// `method`.
    Method,
    /// `path`, as received, without the query.
    Path,
}

impl FromStr for Source {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let source = match text.split_once(':') {
            Some(("header", name)) => Source::Header(
                http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                    .map_err(|_| format!("{text:?}: not a header name"))?,
            ),
            Some(("query", name)) if !name.is_empty() => Source::Query(name.into()),
            Some(("context", key)) if !key.is_empty() => Source::Context(key.into()),
            None if text == "principal" => Source::Principal,
            None if text == "method" => Source::Method,
            None if text == "path" => Source::Path,
            _ => {
                return Err(format!(
                    "{text:?}: use header:NAME, query:NAME, context:KEY, principal, method or path"
                ));
            }
        };
        Ok(source)
    }
}

impl Source {
    /// The source's value in this request, as raw bytes: `Ok(None)` if it
    /// is absent, `Err(())` if a header or query parameter is repeated (the
    /// authorizer and the cache key might read different ones).
    pub fn value(
        &self,
        request: &RequestView,
        context: &RequestContext,
    ) -> Result<Option<Vec<u8>>, ()> {
        Ok(match self {
            Source::Header(name) => {
                let mut values = request.headers.get_all(name).iter();
                match (values.next(), values.next()) {
                    (Some(value), None) => Some(value.as_bytes().to_vec()),
                    (None, _) => None,
                    (Some(_), Some(_)) => return Err(()),
                }
            }
            Source::Query(name) => {
                let mut values = request
                    .query
                    .as_deref()
                    .unwrap_or_default()
                    .split('&')
                    .filter_map(|pair| match pair.split_once('=') {
                        Some((key, value)) if key == name => Some(value),
                        None if pair == name => Some(""),
                        _ => None,
                    });
                match (values.next(), values.next()) {
                    (Some(value), None) => Some(value.as_bytes().to_vec()),
                    (None, _) => None,
                    (Some(_), Some(_)) => return Err(()),
                }
            }
            Source::Context(key) => context.entries.get(key).map(|v| v.as_bytes().to_vec()),
            Source::Principal => context.principal.as_ref().map(|p| p.as_bytes().to_vec()),
            Source::Method => Some(request.method.as_str().as_bytes().to_vec()),
            Source::Path => Some(request.path.as_bytes().to_vec()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_and_bad_ones_say_what_is_accepted() {
        assert_eq!(
            "header:Authorization".parse::<Source>(),
            Ok(Source::Header(http::HeaderName::from_static(
                "authorization"
            )))
        );
        assert_eq!(
            "query:sig".parse::<Source>(),
            Ok(Source::Query("sig".into()))
        );
        assert_eq!("path".parse::<Source>(), Ok(Source::Path));
        let error = "cookie:session"
            .parse::<Source>()
            .expect_err("unknown kind");
        assert!(error.contains("header:NAME"), "{error}");
        assert!("query:".parse::<Source>().is_err());
    }
}
