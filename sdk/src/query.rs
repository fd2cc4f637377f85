//! Query-string helpers for plugins that read a credential from a query
//! parameter and must keep it from the upstream.

use crate::{Edit, Request};

/// `query` without parameter `name` (every occurrence); `None` when
/// nothing is left.
pub fn without(query: &str, name: &str) -> Option<String> {
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| pair.split_once('=').map_or(*pair, |(n, _)| n) != name)
        .filter(|pair| !pair.is_empty())
        .collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

/// The edit that sends `request` upstream without query parameter `name`.
pub fn strip_param(request: &Request, name: &str) -> Edit {
    let path = request.path();
    match without(&request.query().unwrap_or_default(), name) {
        Some(rest) => Edit::RewritePath(format!("{path}?{rest}")),
        None => Edit::RewritePath(path),
    }
}

#[cfg(test)]
mod tests {
    use super::without;

    #[test]
    fn every_occurrence_of_the_parameter_goes() {
        assert_eq!(
            without("a=1&access_token=t&b=2", "access_token").as_deref(),
            Some("a=1&b=2")
        );
        assert_eq!(without("access_token=t", "access_token"), None);
        assert_eq!(without("k=1&k&x=2&&", "k").as_deref(), Some("x=2"));
    }
}
