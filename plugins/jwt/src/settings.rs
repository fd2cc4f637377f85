//! The plugin's settings, as written in the gateway config (JSON here).
//! Unknown keys are refused so a typo fails the load, not a request.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `settings` of a `jwt` plugin.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where the token is read from.
    #[serde(default)]
    pub token: TokenSource,
    /// The issuers whose tokens are accepted, each with its pinned keys.
    #[serde(default)]
    pub issuers: Vec<IssuerSettings>,
    /// Opaque (non-JWT) tokens are checked at this RFC 7662 endpoint.
    #[serde(default)]
    pub introspection: Option<crate::introspect::IntrospectionSettings>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    #[serde(default = "default_leeway_s")]
    pub leeway_s: u64,
    /// Claims every token must carry (beyond `exp` and `iss`).
    #[serde(default)]
    pub required_claims: Vec<String>,
    /// Claim value matchers: the claim (or, for an array claim, one of its
    /// items) must equal one of the listed values.
    #[serde(default)]
    pub match_claims: BTreeMap<String, Vec<serde_json::Value>>,
    /// Scopes the token must grant, all of them; otherwise 403.
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// The claim naming the principal.
    #[serde(default = "default_principal_claim")]
    pub principal_claim: String,
    /// Dotted path of the claim holding roles, e.g. `realm_access.roles`.
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Claims sent to the upstream as headers: claim name → header name.
    #[serde(default)]
    pub forward_claims: BTreeMap<String, String>,
    /// Remove the token from the request sent upstream.
    #[serde(default)]
    pub strip_token: bool,
    /// Verified tokens remembered per instance (0 disables the cache).
    #[serde(default = "default_cache_size")]
    pub cache_size: usize,
    /// Longest token accepted, in bytes.
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: usize,
    /// `realm` of the `WWW-Authenticate` challenge.
    #[serde(default = "default_realm")]
    pub realm: String,
}

/// Where the token comes from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSource {
    /// `header`, `cookie` or `query`.
    #[serde(default = "default_from")]
    pub from: From,
    /// Header, cookie or query parameter name.
    #[serde(default = "default_token_name")]
    pub name: String,
    /// For headers: the scheme before the token (`Bearer`); empty for none.
    #[serde(default = "default_scheme")]
    pub scheme: String,
}

impl Default for TokenSource {
    fn default() -> Self {
        Self {
            from: default_from(),
            name: default_token_name(),
            scheme: default_scheme(),
        }
    }
}

/// Kinds of token source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum From {
    /// A request header.
    Header,
    /// A cookie.
    Cookie,
    /// A query parameter.
    Query,
}

/// One trusted issuer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerSettings {
    /// The exact `iss` value.
    pub issuer: String,
    /// Accepted `aud` values; the token's audience must include one. Empty:
    /// the audience is not checked.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// The algorithms this issuer signs with, e.g. `["RS256"]`. Pinned:
    /// a token with any other `alg` is refused.
    pub algorithms: Vec<String>,
    /// The issuer's public keys as a JWKS document (an object, or its JSON
    /// text, e.g. `"file:jwks.json"` through the config's secret syntax).
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    /// A URL serving the issuer's JWKS; its origin must be in the plugin's
    /// `http_allow`.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Find the JWKS through `{issuer}/.well-known/openid-configuration`;
    /// the issuer's origin (and that of its `jwks_uri`) must be in `http_allow`.
    #[serde(default)]
    pub discovery: bool,
    /// How long fetched keys are used before they are fetched again, in seconds.
    #[serde(default = "default_jwks_cache_s")]
    pub jwks_cache_s: u64,
    /// Least time between two fetches, in seconds: a token with an unknown
    /// `kid` fetches the keys again early, but no more often than this.
    #[serde(default = "default_jwks_min_refresh_s")]
    pub jwks_min_refresh_s: u64,
    /// How long past `jwks_cache_s` the last good keys stay in use while
    /// fetches fail, in seconds; then every token is refused until a fetch
    /// succeeds.
    #[serde(default = "default_jwks_max_stale_s")]
    pub jwks_max_stale_s: u64,
    /// The shared secret for HS256/384/512 (e.g. `"env:JWT_SECRET"`).
    #[serde(default)]
    pub secret: Option<String>,
}

fn default_jwks_cache_s() -> u64 {
    600
}

fn default_jwks_min_refresh_s() -> u64 {
    30
}

fn default_jwks_max_stale_s() -> u64 {
    3600
}

fn default_leeway_s() -> u64 {
    60
}

fn default_principal_claim() -> String {
    "sub".into()
}

fn default_roles_claim() -> String {
    "roles".into()
}

fn default_cache_size() -> usize {
    1024
}

fn default_max_token_bytes() -> usize {
    8192
}

fn default_realm() -> String {
    "api".into()
}

fn default_from() -> From {
    From::Header
}

fn default_token_name() -> String {
    "authorization".into()
}

fn default_scheme() -> String {
    "Bearer".into()
}
