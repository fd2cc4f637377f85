//! Route matching: host, path (exact, segment-aware prefix, or anchored
//! regex) and method, first match in config order.

use std::borrow::Cow;
use std::sync::Arc;

use http::Method;
use regex::Regex;

use crate::config::RouteConfig;
use crate::plugin::chain::Chain;
use crate::ratelimit::RouteLimits;
use crate::upstream::Upstream;

/// How a route matches paths.
#[derive(Debug)]
pub enum PathMatcher {
    /// Equal to.
    Exact(String),
    /// Starts with, at a segment boundary.
    Prefix(String),
    /// The whole path matches.
    Regex(Regex),
}

impl PathMatcher {
    fn matches(&self, path: &str) -> bool {
        match self {
            PathMatcher::Exact(p) => path == p,
            PathMatcher::Prefix(p) => prefix_matches(p, path),
            PathMatcher::Regex(re) => re.is_match(path),
        }
    }
}

/// `/api` matches `/api` and `/api/x` but not `/apix`; `/api/` matches `/api/x`.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// A compiled route.
pub struct Route {
    /// Its id.
    pub id: Arc<str>,
    hosts: Vec<String>,
    path: PathMatcher,
    methods: Vec<Method>,
    /// Where requests go.
    pub upstream: Upstream,
    /// Its plugins.
    pub chain: Chain,
    /// The prefix to remove before forwarding, if `strip_prefix` is set.
    pub strip_prefix: Option<String>,
    /// Largest request body.
    pub max_body_bytes: u64,
    /// Whether a verified client certificate is required.
    pub require_client_cert: bool,
    /// Whether the plain-HTTP listener refuses this route instead of
    /// redirecting it.
    pub refuse_plain_http: bool,
    /// Its rate limits.
    pub limits: RouteLimits,
    /// Signed upload URLs it accepts, if any.
    pub signed_uploads: Option<crate::uploads::SignedUploads>,
    /// Regional pools that serve clients by country, if any.
    pub regions: Option<crate::upstream::Regions>,
    /// Its metric handles.
    pub metrics: Arc<crate::telemetry::metrics::RouteMetrics>,
}

impl Route {
    /// Compile a route whose config has been validated.
    pub fn new(
        config: &RouteConfig,
        upstream: Upstream,
        chain: Chain,
        limits: RouteLimits,
    ) -> Result<Self, regex::Error> {
        let path = match (&config.path.exact, &config.path.prefix, &config.path.regex) {
            (Some(p), _, _) => PathMatcher::Exact(p.clone()),
            (None, Some(p), _) => PathMatcher::Prefix(p.clone()),
            (None, None, Some(re)) => PathMatcher::Regex(Regex::new(&format!("^(?:{re})$"))?),
            (None, None, None) => PathMatcher::Prefix("/".into()),
        };
        let strip_prefix = config
            .upstream
            .strip_prefix
            .then(|| config.path.prefix.clone())
            .flatten();
        Ok(Self {
            id: Arc::from(config.id.as_str()),
            hosts: config.hosts.clone(),
            path,
            methods: config
                .methods
                .iter()
                .filter_map(|m| Method::from_bytes(m.as_bytes()).ok())
                .collect(),
            upstream,
            chain,
            strip_prefix,
            require_client_cert: config.require_client_cert,
            refuse_plain_http: config.plain_http == crate::config::PlainHttp::Refuse,
            max_body_bytes: config.max_body_bytes,
            limits,
            signed_uploads: None,
            regions: None,
            metrics: crate::telemetry::get().metrics.route(&config.id),
        })
    }

    fn matches(&self, host: &str, path: &str, method: &Method) -> bool {
        (self.hosts.is_empty() || self.hosts.iter().any(|h| host_matches(h, host)))
            && (self.methods.is_empty() || self.methods.contains(method))
            && self.path.matches(path)
    }
}

/// `example.com` matches itself; `*.example.com` matches one or more labels
/// before `.example.com`. The request's port is ignored.
fn host_matches(pattern: &str, host: &str) -> bool {
    let host = strip_port(host);
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1
                && host.ends_with(suffix)
                && host[..host.len() - suffix.len()].ends_with('.')
        }
        None => host.eq_ignore_ascii_case(pattern),
    }
}

/// `host` in lower case, for wildcard patterns compare suffixes exactly;
/// copied only when it has capitals, which most requests' hosts do not.
fn lowercase(host: &str) -> Cow<'_, str> {
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| &h[1..]);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The authority a request is routed by: an absolute-form target or
/// HTTP/2 `:authority`, else the `Host` header.
pub fn request_authority<'a>(uri: &'a http::Uri, headers: &'a http::HeaderMap) -> Option<&'a str> {
    authority(uri, headers.get(http::header::HOST))
}

/// [`request_authority`], given the request's `Host` field.
pub fn authority<'a>(uri: &'a http::Uri, host: Option<&'a http::HeaderValue>) -> Option<&'a str> {
    uri.authority()
        .map(|a| a.as_str())
        .or_else(|| host?.to_str().ok())
}

/// All routes, in order.
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    /// Routes in match order.
    pub fn new(routes: Vec<Route>) -> Self {
        Self { routes }
    }

    /// The first route that matches.
    pub fn find(&self, host: &str, path: &str, method: &Method) -> Option<&Route> {
        let host = lowercase(host);
        self.routes.iter().find(|r| r.matches(&host, path, method))
    }

    /// All routes.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_at_segment_boundaries() {
        assert!(prefix_matches("/api", "/api"));
        assert!(prefix_matches("/api", "/api/users"));
        assert!(!prefix_matches("/api", "/apix"));
        assert!(prefix_matches("/", "/anything"));
        assert!(prefix_matches("/api/", "/api/x"));
    }

    #[test]
    fn hosts_match_exactly_or_by_wildcard() {
        assert!(host_matches("example.com", "Example.com:8080"));
        assert!(!host_matches("example.com", "www.example.com"));
        assert!(host_matches("*.example.com", "api.example.com"));
        assert!(host_matches("*.example.com", "a.b.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(!host_matches("*.example.com", "badexample.com"));
        assert!(host_matches("::1", "[::1]:8080"));
    }

    #[test]
    fn hosts_with_capitals_match_wildcards_once_lowercased() {
        assert!(!host_matches("*.example.com", "API.Example.COM"));
        assert!(host_matches("*.example.com", &lowercase("API.Example.COM")));
        assert!(matches!(lowercase("api.example.com"), Cow::Borrowed(_)));
    }

    #[test]
    fn regexes_match_the_whole_path() {
        let re = PathMatcher::Regex(Regex::new("^(?:/users/[0-9]+)$").expect("valid"));
        assert!(re.matches("/users/42"));
        assert!(!re.matches("/users/42/x"));
    }
}
