//! The posture rules. Each has a stable id (never reused), a severity, a
//! fix, and the catalogue entries it comes from: the OWASP API Security
//! Top 10 2023 and Checkov's API Gateway checks.

use std::net::IpAddr;

use super::{Finding, Severity};
use crate::config::{
    ClientAuth, Config, DefaultPolicy, OnError, PlainHttp, PluginConfig, RouteConfig,
};

/// One rule of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable id.
    pub id: &'static str,
    /// Short kebab-case name.
    pub name: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// One line on what it finds.
    pub title: &'static str,
    /// What to do.
    pub fix: &'static str,
    /// The catalogue entries it comes from.
    pub references: &'static str,
}

impl Rule {
    fn at(&self, location: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            id: self.id,
            severity: self.severity,
            location: location.into(),
            line: None,
            message: message.into(),
            fix: self.fix,
        }
    }
}

macro_rules! rule {
    ($const:ident, $id:literal, $name:literal, $severity:ident, $title:literal, $fix:literal, $refs:literal) => {
        const $const: Rule = Rule {
            id: $id,
            name: $name,
            severity: Severity::$severity,
            title: $title,
            fix: $fix,
            references: $refs,
        };
    };
}

rule!(
    NO_AUTHENTICATION,
    "PC001",
    "route-without-authentication",
    High,
    "A route that is not marked public runs no authentication",
    "Add a plugin with role = \"authentication\" or \"authorizer\" (jwt, api-key, ext-authz), require a client certificate, or mark the route public = true if it is meant to be",
    "OWASP API2:2023 Broken Authentication; OWASP API5:2023; Checkov CKV_AWS_59"
);
rule!(
    DEFAULT_ALLOW,
    "PC002",
    "default-policy-allow",
    Low,
    "Routes without authentication are accepted at load",
    "Set default_policy = \"deny\": every route then needs authentication or public = true",
    "OWASP API2:2023 Broken Authentication"
);
rule!(
    CLEARTEXT_LISTENER,
    "PC003",
    "cleartext-listener",
    High,
    "The traffic listener speaks plain HTTP on a non-loopback address",
    "Add [server.tls] with certificates, or listen on loopback behind a TLS-terminating proxy",
    "OWASP API8:2023 Security Misconfiguration; Checkov CKV_AWS_206"
);
rule!(
    REDIRECTS_CREDENTIALS,
    "PC004",
    "plain-http-redirect-on-authenticated-route",
    Medium,
    "An authenticated route is redirected, not refused, on the plain-HTTP listener: the credential has already crossed in clear text",
    "Set plain_http = \"refuse\" on routes that take credentials",
    "OWASP API8:2023 Security Misconfiguration"
);
rule!(
    WEAK_HSTS,
    "PC005",
    "hsts-off-or-short",
    Medium,
    "HTTPS is served without Strict-Transport-Security, or with a max-age under a year",
    "Keep [server.tls.hsts] enabled with max_age of at least 31536000 (the default is two years)",
    "OWASP API8:2023 Security Misconfiguration"
);
rule!(
    ADMIN_EXPOSED,
    "PC006",
    "admin-api-beyond-loopback-without-mtls",
    High,
    "The admin API listens beyond loopback without requiring a client certificate",
    "Keep admin.listen on loopback, or set [admin.tls] client_auth = \"required\" with a client CA",
    "OWASP API8:2023 Security Misconfiguration; OWASP API5:2023 Broken Function Level Authorization"
);
rule!(
    LOGIN_UNLIMITED,
    "PC007",
    "no-rate-limit-on-login-or-token-route",
    High,
    "A login, token or password route has no rate limit: credential stuffing and brute force go unchecked",
    "Add a rate limit keyed by ip (and by consumer or header where it applies) to the route",
    "OWASP API2:2023 Broken Authentication; OWASP API4:2023 Unrestricted Resource Consumption"
);
rule!(
    UNLIMITED,
    "PC008",
    "no-rate-limit",
    Low,
    "A route has no rate limit",
    "Add a [rate_limits] policy to the route's rate_limits",
    "OWASP API4:2023 Unrestricted Resource Consumption"
);
rule!(
    WAF_DETECT_ONLY,
    "PC009",
    "waf-detection-only",
    High,
    "The WAF only logs: attacks it recognises still reach the upstream",
    "Set the waf plugin's mode = \"block\" once its false positives are tuned",
    "OWASP API8:2023 Security Misconfiguration; Checkov CKV2_AWS_29"
);
rule!(
    WAF_LOW_PARANOIA,
    "PC010",
    "waf-paranoia-below-2",
    Low,
    "The WAF blocks at paranoia level 1 only",
    "Raise paranoia_level to 2 (and tune exclusions), or run a higher detection_paranoia_level to see what it would catch",
    "OWASP API8:2023 Security Misconfiguration"
);
rule!(
    NO_WAF,
    "PC011",
    "route-without-waf",
    Low,
    "A route is not protected by the WAF",
    "Add the waf plugin with the OWASP Core Rule Set to the route",
    "Checkov CKV2_AWS_29; OWASP API8:2023"
);
rule!(
    NOT_PINNED,
    "PC012",
    "plugin-not-pinned",
    Medium,
    "A plugin component is not pinned by digest: whatever is at the path is loaded",
    "Add sha256 = \"<sha256sum of the file>\" to the plugin",
    "OWASP API8:2023 Security Misconfiguration; OWASP API10:2023 Unsafe Consumption of APIs"
);
rule!(
    UNSIGNED,
    "PC013",
    "plugin-signatures-not-required",
    Medium,
    "Plugin components are loaded without a required signature",
    "Sign components with `portcullis plugin sign` and set [signing] required = true with trusted_keys",
    "OWASP API8:2023 Security Misconfiguration"
);
rule!(
    CORS_CREDENTIALS,
    "PC014",
    "cors-credentials-with-broad-origins",
    High,
    "CORS allows credentials from any origin, a pattern, `null` or a plain-HTTP origin",
    "List exact https:// origins when allow_credentials = true",
    "OWASP API8:2023 Security Misconfiguration"
);
rule!(
    CLEARTEXT_OUTBOUND,
    "PC015",
    "outbound-http-allow-list-too-broad",
    Medium,
    "A plugin may call an origin over plain HTTP or at a private address",
    "Allow only https:// origins the plugin needs; reach internal services through TLS names",
    "OWASP API7:2023 Server Side Request Forgery; OWASP API10:2023 Unsafe Consumption of APIs"
);
rule!(
    INLINE_SECRET,
    "PC016",
    "secret-inline-in-config",
    High,
    "A secret is written in the config file instead of an env: or file: reference",
    "Write it as \"env:NAME\" or \"file:PATH\" and keep the value out of the file",
    "OWASP API8:2023 Security Misconfiguration"
);
rule!(
    AUTH_FAILS_OPEN,
    "PC017",
    "authentication-fails-open",
    High,
    "An authentication plugin lets requests through unauthenticated when it fails",
    "Set on_error = \"deny\" on authentication plugins",
    "OWASP API2:2023 Broken Authentication"
);
rule!(
    CLEARTEXT_UPSTREAM,
    "PC018",
    "cleartext-upstream",
    Low,
    "Requests go to a non-loopback upstream over plain HTTP",
    "Add [routes.upstream.tls] so the hop to the upstream is encrypted and the upstream verified",
    "OWASP API8:2023 Security Misconfiguration; OWASP API10:2023"
);
rule!(
    BREAKER_OFF,
    "PC019",
    "plugin-breaker-disabled",
    Low,
    "A plugin's crash-loop breaker is off: a crashing plugin is called on every request",
    "Leave breaker.failures above 0 (default 5)",
    "OWASP API4:2023 Unrestricted Resource Consumption"
);
rule!(
    NO_CHAIN_BUDGET,
    "PC020",
    "no-chain-budget",
    Info,
    "Routes with several plugins have no budget for their plugins' time together",
    "Set runtime.chain_budget_ms",
    "OWASP API4:2023 Unrestricted Resource Consumption"
);
rule!(
    TRUSTS_EVERYONE,
    "PC021",
    "trusted-proxies-too-broad",
    High,
    "X-Forwarded-For is believed from any address: clients choose their own IP, defeating IP rules, rate limits by ip and geo",
    "List only the addresses of your load balancers in server.trusted_proxies",
    "OWASP API8:2023 Security Misconfiguration"
);

rule!(
    BODY_TYPES_CLIENT_CHOSEN,
    "PC022",
    "request-bodies-skipped-by-type",
    Medium,
    "A plugin that may inspect request bodies reads only some Content-Types: the client chooses its request's, so other bodies reach the upstream unread",
    "Leave body_content_types unset on plugins that inspect request bodies (waf, validate, your own), or refuse other types before them",
    "OWASP API8:2023 Security Misconfiguration"
);

/// Every rule, in id order.
pub const RULES: &[Rule] = &[
    NO_AUTHENTICATION,
    DEFAULT_ALLOW,
    CLEARTEXT_LISTENER,
    REDIRECTS_CREDENTIALS,
    WEAK_HSTS,
    ADMIN_EXPOSED,
    LOGIN_UNLIMITED,
    UNLIMITED,
    WAF_DETECT_ONLY,
    WAF_LOW_PARANOIA,
    NO_WAF,
    NOT_PINNED,
    UNSIGNED,
    CORS_CREDENTIALS,
    CLEARTEXT_OUTBOUND,
    INLINE_SECRET,
    AUTH_FAILS_OPEN,
    CLEARTEXT_UPSTREAM,
    BREAKER_OFF,
    NO_CHAIN_BUDGET,
    TRUSTS_EVERYONE,
    BODY_TYPES_CLIENT_CHOSEN,
];

/// HSTS max-age below this is short.
const ONE_YEAR_S: u64 = 31_536_000;

/// Words of a path (split at anything not a letter or digit) that mark a
/// route where credentials are presented.
const LOGIN_WORDS: [&str; 14] = [
    "login",
    "signin",
    "logon",
    "token",
    "tokens",
    "oauth",
    "oauth2",
    "auth",
    "authorize",
    "authenticate",
    "password",
    "passwords",
    "session",
    "sessions",
];

/// Tables in plugin settings whose every string value is a secret (HMAC
/// keys by client id).
const SECRET_TABLES: [&str; 2] = ["keys", "secrets"];

/// Keys whose string values are secrets.
const SECRET_KEYS: [&str; 9] = [
    "secret",
    "client_secret",
    "password",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "hmac_secret",
    "shared_secret",
];

/// Run every rule. `raw` is the file as written, for secrets.
pub fn check(config: &Config, raw: &toml::Table) -> Vec<Finding> {
    let mut findings = Vec::new();
    server_rules(config, &mut findings);
    for (i, route) in config.routes.iter().enumerate() {
        route_rules(config, i, route, &mut findings);
    }
    for (name, plugin) in &config.plugins {
        plugin_rules(name, plugin, &mut findings);
    }
    let path_plugins = config.plugins.values().any(|p| p.path.is_some());
    if path_plugins && !config.signing.required {
        findings.push(UNSIGNED.at(
            "signing.required",
            "components are loaded from files without a required signature",
        ));
    }
    if config.default_policy == DefaultPolicy::Allow && !config.routes.is_empty() {
        findings.push(DEFAULT_ALLOW.at("default_policy", "default_policy is \"allow\""));
    }
    if config.runtime.chain_budget_ms == 0 && config.routes.iter().any(|r| r.plugins.len() > 1) {
        findings.push(NO_CHAIN_BUDGET.at(
            "runtime.chain_budget_ms",
            "no budget for a request's plugin calls together",
        ));
    }
    inline_secrets(raw, "", &mut findings);
    findings
}

fn server_rules(config: &Config, findings: &mut Vec<Finding>) {
    let server = &config.server;
    match &server.tls {
        None if !server.listen.ip().is_loopback() => findings.push(CLEARTEXT_LISTENER.at(
            "server.listen",
            format!("{} serves plain HTTP", server.listen),
        )),
        Some(tls) if !tls.hsts.enabled || tls.hsts.max_age < ONE_YEAR_S => {
            findings.push(WEAK_HSTS.at(
                "server.tls.hsts",
                if tls.hsts.enabled {
                    format!("max_age is {} s", tls.hsts.max_age)
                } else {
                    "HSTS is disabled".to_string()
                },
            ));
        }
        _ => {}
    }
    for (i, proxy) in server.trusted_proxies.iter().enumerate() {
        if crate::forwarding::parse_network(proxy).is_some_and(|n| n.prefix_len() == 0) {
            findings.push(TRUSTS_EVERYONE.at(
                format!("server.trusted_proxies[{i}]"),
                format!("{proxy} trusts every address"),
            ));
        }
    }
    if let Some(admin) = &config.admin {
        // A certificate is required when asked for outright, or when it
        // is the only way in.
        let mtls = admin.tls.as_ref().is_some_and(|t| {
            t.client_auth == ClientAuth::Required
                || (t.client_auth == ClientAuth::Optional && admin.token_sha256.is_none())
        });
        if !admin.listen.ip().is_loopback() && !mtls {
            findings.push(ADMIN_EXPOSED.at(
                "admin.listen",
                format!("the admin API listens on {}", admin.listen),
            ));
        }
        let admin_ca = admin.tls.as_ref().and_then(|t| t.client_ca.as_ref());
        let traffic_ca = server.tls.as_ref().and_then(|t| t.client_ca.as_ref());
        if admin_ca.is_some() && admin_ca == traffic_ca && admin.client_subjects.is_empty() {
            findings.push(ADMIN_EXPOSED.at(
                "admin.tls.client_ca",
                "the admin API trusts the CA of the API's own clients and admin.client_subjects does not narrow it: every API client is an admin",
            ));
        }
    }
}

/// Whether a route authenticates its callers somehow.
fn authenticates(config: &Config, route: &RouteConfig) -> bool {
    route.require_client_cert
        || route.signed_uploads.as_ref().is_some_and(|s| s.required)
        || route.plugins.iter().any(|p| {
            config
                .plugins
                .get(&p.name)
                .is_some_and(|d| d.role.authenticates())
        })
}

/// The plugins of a route with the settings they get there.
fn links<'a>(
    config: &'a Config,
    route: &'a RouteConfig,
) -> impl Iterator<Item = (&'a PluginConfig, &'a toml::Table)> {
    route.plugins.iter().filter_map(|link| {
        let plugin = config.plugins.get(&link.name)?;
        Some((plugin, link.settings.as_ref().unwrap_or(&plugin.settings)))
    })
}

fn route_rules(config: &Config, i: usize, route: &RouteConfig, findings: &mut Vec<Finding>) {
    let key = format!("routes[{i}]");
    let id = &route.id;
    let authenticated = authenticates(config, route);
    if !route.public && !authenticated {
        findings.push(NO_AUTHENTICATION.at(
            key.clone(),
            format!("route {id:?} runs no authentication and is not marked public"),
        ));
    }
    if authenticated
        && config.server.http_redirect_listen.is_some()
        && route.plain_http == PlainHttp::Redirect
    {
        findings.push(REDIRECTS_CREDENTIALS.at(
            format!("{key}.plain_http"),
            format!("route {id:?} takes credentials and is redirected from plain HTTP"),
        ));
    }
    let path = [&route.path.exact, &route.path.prefix, &route.path.regex]
        .into_iter()
        .flatten()
        .next()
        .map(|p| p.to_ascii_lowercase())
        .unwrap_or_default();
    let login = path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| LOGIN_WORDS.contains(&word));
    if route.rate_limits.is_empty() {
        if login {
            findings.push(LOGIN_UNLIMITED.at(
                format!("{key}.rate_limits"),
                format!("route {id:?} ({path}) has no rate limit"),
            ));
        } else {
            findings.push(UNLIMITED.at(
                format!("{key}.rate_limits"),
                format!("route {id:?} has no rate limit"),
            ));
        }
    }
    let mut has_waf = false;
    for (plugin, settings) in links(config, route) {
        match plugin.builtin.as_deref() {
            Some("waf") => {
                has_waf = true;
                waf_rules(&key, id, settings, findings);
            }
            Some("cors") => cors_rules(&key, id, settings, findings),
            _ => {}
        }
    }
    if !has_waf && route.upload_signer.is_none() {
        findings.push(NO_WAF.at(
            format!("{key}.plugins"),
            format!("route {id:?} has no waf plugin"),
        ));
    }
    let upstreams =
        std::iter::once(&route.upstream).chain(route.regions.iter().map(|r| &r.upstream));
    for upstream in upstreams.filter(|u| u.tls.is_none()) {
        if let Some(target) = upstream.targets.iter().find(|t| !is_local_target(t)) {
            findings.push(CLEARTEXT_UPSTREAM.at(
                format!("{key}.upstream"),
                format!("route {id:?} sends requests to {target} over plain HTTP"),
            ));
        }
    }
}

fn waf_rules(key: &str, id: &str, settings: &toml::Table, findings: &mut Vec<Finding>) {
    if settings.get("mode").and_then(|m| m.as_str()) == Some("detect") {
        findings.push(WAF_DETECT_ONLY.at(
            format!("{key}.plugins"),
            format!("the waf on route {id:?} is in detect mode"),
        ));
    }
    let level = settings
        .get("paranoia_level")
        .and_then(|p| p.as_integer())
        .unwrap_or(1);
    if level < 2 {
        findings.push(WAF_LOW_PARANOIA.at(
            format!("{key}.plugins"),
            format!("the waf on route {id:?} blocks at paranoia level {level}"),
        ));
    }
}

fn cors_rules(key: &str, id: &str, settings: &toml::Table, findings: &mut Vec<Finding>) {
    let credentials = settings
        .get("allow_credentials")
        .and_then(|c| c.as_bool())
        .unwrap_or(false);
    if !credentials {
        return;
    }
    let origins = settings
        .get("allow_origins")
        .and_then(|o| o.as_array())
        .into_iter()
        .flatten()
        .filter_map(|o| o.as_str());
    let broad = origins
        .filter(|o| *o == "*" || *o == "null" || o.starts_with("http://"))
        .map(str::to_string)
        .chain(
            settings
                .get("allow_origin_patterns")
                .and_then(|p| p.as_array())
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(|p| format!("pattern {p}"))),
        )
        .collect::<Vec<_>>();
    if !broad.is_empty() {
        findings.push(CORS_CREDENTIALS.at(
            format!("{key}.plugins"),
            format!(
                "the cors plugin on route {id:?} allows credentials from {}",
                broad.join(", ")
            ),
        ));
    }
}

fn plugin_rules(name: &str, plugin: &PluginConfig, findings: &mut Vec<Finding>) {
    let key = format!("plugins.{name}");
    if plugin.path.is_some() && plugin.sha256.is_none() {
        findings.push(NOT_PINNED.at(
            format!("{key}.sha256"),
            format!("plugin {name:?} is loaded from a file without a digest pin"),
        ));
    }
    if plugin.role.authenticates() && plugin.on_error == Some(OnError::Allow) {
        findings.push(AUTH_FAILS_OPEN.at(
            format!("{key}.on_error"),
            format!("authentication plugin {name:?} fails open"),
        ));
    }
    if plugin.breaker.failures == 0 {
        findings.push(BREAKER_OFF.at(
            format!("{key}.breaker"),
            format!("plugin {name:?} has no crash-loop breaker"),
        ));
    }
    // Of the built-ins only these read request bodies; a component file
    // may.
    let reads_request_bodies = match plugin.builtin.as_deref() {
        Some(builtin) => matches!(builtin, "waf" | "validate"),
        None => true,
    };
    if plugin.body_content_types.is_some() && reads_request_bodies {
        findings.push(BODY_TYPES_CLIENT_CHOSEN.at(
            format!("{key}.body_content_types"),
            format!("plugin {name:?} skips request bodies of types it does not list"),
        ));
    }
    for (i, origin) in plugin.http_allow.iter().enumerate() {
        let origin_lower = origin.to_ascii_lowercase();
        let host = http::Uri::try_from(origin_lower.as_str())
            .ok()
            .and_then(|uri| uri.host().map(str::to_string))
            .unwrap_or_default();
        let private = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<IpAddr>()
                .is_ok_and(|ip| !is_public(ip));
        if origin_lower.starts_with("http://") || private {
            findings.push(CLEARTEXT_OUTBOUND.at(
                format!("{key}.http_allow[{i}]"),
                format!("plugin {name:?} may call {origin}"),
            ));
        }
    }
}

/// Whether an address is on the public internet.
fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            !(v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified())
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_unique_local()
                || v6.is_unicast_link_local())
        }
    }
}

/// `localhost:…` or a loopback address.
fn is_local_target(target: &str) -> bool {
    let host = target.rsplit_once(':').map_or(target, |(h, _)| h);
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Secret-looking keys whose values are written inline.
fn inline_secrets(table: &toml::Table, prefix: &str, findings: &mut Vec<Finding>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        // `[upload_keys]`, and `keys`/`secrets` tables inside plugin
        // settings (not `[plugins.keys]`, a plugin named so).
        let last = prefix.rsplit('.').next().unwrap_or(prefix);
        let in_secret_table = prefix == "upload_keys"
            || (prefix.contains("settings") && SECRET_TABLES.contains(&last));
        let secret_key = SECRET_KEYS.contains(&key.as_str()) || in_secret_table;
        let inline = |text: &str| !text.is_empty() && !is_reference(text);
        match value {
            toml::Value::String(text) if secret_key && inline(text) => {
                findings
                    .push(INLINE_SECRET.at(path.clone(), format!("{path} holds its value inline")));
            }
            toml::Value::Table(inner) => inline_secrets(inner, &path, findings),
            toml::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    match item {
                        toml::Value::Table(inner) => {
                            inline_secrets(inner, &format!("{path}[{i}]"), findings);
                        }
                        toml::Value::String(text) if secret_key && inline(text) => {
                            findings.push(INLINE_SECRET.at(
                                format!("{path}[{i}]"),
                                format!("{path}[{i}] holds its value inline"),
                            ));
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

fn is_reference(value: &str) -> bool {
    value.starts_with("env:") || value.starts_with("file:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_in_order() {
        let ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn inline_secrets_are_found_and_references_are_not() {
        let raw: toml::Table = toml::from_str(
            "[upload_keys]\na = \"inline-value\"\nb = \"env:KEY\"\n[plugins.jwt.settings]\nsecret = \"file:s\"\n[[routes]]\n[[routes.plugins]]\nsettings = { introspection = { client_secret = \"x\" } }\n",
        )
        .expect("toml");
        let mut found = Vec::new();
        inline_secrets(&raw, "", &mut found);
        let at: Vec<&str> = found.iter().map(|f| f.location.as_str()).collect();
        assert_eq!(
            at,
            [
                "routes[0].plugins[0].settings.introspection.client_secret",
                "upload_keys.a"
            ]
        );
    }

    #[test]
    fn tables_of_keys_are_secrets() {
        let hmac: toml::Table = toml::from_str(
            "[plugins.hmac.settings.keys]\nclient-1 = \"inline\"\nclient-2 = \"env:K\"\n",
        )
        .expect("toml");
        let mut found = Vec::new();
        inline_secrets(&hmac, "", &mut found);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].location, "plugins.hmac.settings.keys.client-1");
    }
}
