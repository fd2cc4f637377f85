//! Identity sources: where an authorizer's inputs are read from a request.

use std::str::FromStr;

use crate::context::RequestContext;
use crate::plugin::view::RequestView;

/// One identity source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `header:NAME`: every value of the header, joined by `, `.
    Header(http::HeaderName),
    /// `query:NAME`: the first value of the query parameter, as sent.
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
    /// The source's value in this request, if present.
    pub fn value(&self, request: &RequestView, context: &RequestContext) -> Option<String> {
        match self {
            Source::Header(name) => {
                let values: Vec<&str> = request
                    .headers
                    .get_all(name)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                (!values.is_empty()).then(|| values.join(", "))
            }
            Source::Query(name) => request
                .query
                .as_deref()?
                .split('&')
                .find_map(|pair| match pair.split_once('=') {
                    Some((key, value)) if key == name => Some(value.to_string()),
                    None if pair == name => Some(String::new()),
                    _ => None,
                }),
            Source::Context(key) => context.entries.get(key).cloned(),
            Source::Principal => context.principal.clone(),
            Source::Method => Some(request.method.as_str().to_string()),
            Source::Path => Some(request.path.clone()),
        }
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
