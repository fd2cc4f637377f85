//! The filter: networks and rules parsed once at configure time.

use std::net::IpAddr;

use ipnet::IpNet;
use portcullis_sdk::{Decision, Denial};

use crate::settings::{Action, RuleSettings, Settings};

/// A configured filter.
pub struct Filter {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
    rules: Vec<Rule>,
    status: u16,
    body: Vec<u8>,
    content_type: String,
}

struct Rule {
    methods: Vec<String>,
    path: Option<String>,
    path_prefix: Option<String>,
    cidrs: Vec<IpNet>,
    action: Action,
}

/// What rules read of a request besides its address. The plugin fetches
/// each from the gateway only when a rule asks: each is a host call.
pub trait RequestLine {
    /// The method, upper case.
    fn method(&self) -> &str;
    /// The path, without the query.
    fn path(&self) -> &str;
}

/// For tests and native callers: the facts at hand.
impl RequestLine for (&str, &str) {
    fn method(&self) -> &str {
        self.0
    }
    fn path(&self) -> &str {
        self.1
    }
}

/// The outcome for one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny(&'static str),
}

impl Filter {
    /// Parse and check settings given as JSON.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let settings: Settings = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if !(400..=599).contains(&settings.status) {
            return Err(format!(
                "status: {} is not a 4xx or 5xx code",
                settings.status
            ));
        }
        let rules = settings
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, rule)| Rule::parse(rule).map_err(|e| format!("rules[{i}]: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            allow: parse_networks("allow", &settings.allow)?,
            deny: parse_networks("deny", &settings.deny)?,
            rules,
            status: settings.status,
            body: settings
                .body
                .unwrap_or_else(|| r#"{"error":"forbidden"}"#.into())
                .into_bytes(),
            content_type: settings.content_type,
        })
    }

    /// Decide for a client address, method and path: `deny` networks first,
    /// then the first matching rule, then the `allow` networks.
    pub fn check(&self, ip: IpAddr, request: &impl RequestLine) -> Verdict {
        let ip = canonical(ip);
        if self.deny.iter().any(|net| net.contains(&ip)) {
            return Verdict::Deny("ip-denied");
        }
        if let Some(rule) = self.rules.iter().find(|r| r.matches(ip, request)) {
            return match rule.action {
                Action::Allow => Verdict::Allow,
                Action::Deny => Verdict::Deny("rule-denied"),
            };
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|net| net.contains(&ip)) {
            return Verdict::Deny("ip-not-allowed");
        }
        Verdict::Allow
    }

    /// The configured denial response.
    pub fn denial(&self, reason: &str) -> Decision {
        Decision::Deny(Denial {
            status: self.status,
            headers: vec![("content-type".into(), self.content_type.clone())],
            body: self.body.clone(),
            reason: reason.into(),
        })
    }
}

impl Rule {
    fn parse(settings: RuleSettings) -> Result<Self, String> {
        if let Some(prefix) = &settings.path_prefix
            && !prefix.starts_with('/')
        {
            return Err(format!("path_prefix: {prefix:?} must start with '/'"));
        }
        Ok(Self {
            methods: settings
                .methods
                .iter()
                .map(|m| m.to_ascii_uppercase())
                .collect(),
            path: settings.path,
            path_prefix: settings.path_prefix,
            cidrs: parse_networks("cidrs", &settings.cidrs)?,
            action: settings.action,
        })
    }

    /// The address first: it is at hand, the method and path may cost a
    /// host call each.
    fn matches(&self, ip: IpAddr, request: &impl RequestLine) -> bool {
        (self.cidrs.is_empty() || self.cidrs.iter().any(|net| net.contains(&ip)))
            && (self.methods.is_empty() || self.methods.iter().any(|m| m == request.method()))
            && self.path.as_deref().is_none_or(|p| p == request.path())
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|prefix| prefix_matches(prefix, request.path()))
    }
}

/// `/admin` matches `/admin` and `/admin/x` but not `/administrator`.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are IPv4 clients.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn parse_networks(key: &str, items: &[String]) -> Result<Vec<IpNet>, String> {
    items
        .iter()
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{key}: {item:?} is not an IP address or CIDR network"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(json: &str) -> Filter {
        Filter::from_json(json).expect("valid settings")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("valid ip")
    }

    #[test]
    fn empty_settings_allow_everyone() {
        assert_eq!(
            filter("{}").check(ip("1.2.3.4"), &("GET", "/")),
            Verdict::Allow
        );
    }

    #[test]
    fn allow_list_refuses_outsiders() {
        let f = filter(r#"{"allow": ["10.0.0.0/8", "::1"]}"#);
        assert_eq!(f.check(ip("10.1.2.3"), &("GET", "/")), Verdict::Allow);
        assert_eq!(f.check(ip("::1"), &("GET", "/")), Verdict::Allow);
        assert_eq!(
            f.check(ip("11.0.0.1"), &("GET", "/")),
            Verdict::Deny("ip-not-allowed")
        );
    }

    #[test]
    fn deny_list_wins_over_allow_list_and_rules() {
        let f = filter(
            r#"{"allow": ["10.0.0.0/8"], "deny": ["10.9.0.0/16"],
                "rules": [{"action": "allow"}]}"#,
        );
        assert_eq!(
            f.check(ip("10.9.1.1"), &("GET", "/")),
            Verdict::Deny("ip-denied")
        );
    }

    #[test]
    fn mapped_ipv6_clients_are_matched_as_ipv4() {
        let f = filter(r#"{"deny": ["192.0.2.0/24"]}"#);
        assert_eq!(
            f.check(ip("::ffff:192.0.2.7"), &("GET", "/")),
            Verdict::Deny("ip-denied")
        );
    }

    #[test]
    fn first_matching_rule_decides() {
        let f = filter(
            r#"{"rules": [
                {"methods": ["get"], "path_prefix": "/admin", "cidrs": ["127.0.0.0/8"], "action": "allow"},
                {"path_prefix": "/admin", "action": "deny"}
            ]}"#,
        );
        assert_eq!(
            f.check(ip("127.0.0.1"), &("GET", "/admin/users")),
            Verdict::Allow
        );
        assert_eq!(
            f.check(ip("127.0.0.1"), &("DELETE", "/admin")),
            Verdict::Deny("rule-denied")
        );
        assert_eq!(
            f.check(ip("8.8.8.8"), &("GET", "/admin")),
            Verdict::Deny("rule-denied")
        );
        assert_eq!(
            f.check(ip("8.8.8.8"), &("GET", "/administrator")),
            Verdict::Allow
        );
    }

    #[test]
    fn bad_settings_name_the_key() {
        let err = Filter::from_json(r#"{"deny": ["10.0.0.0/33"]}"#).err();
        assert_eq!(
            err.as_deref(),
            Some(r#"deny: "10.0.0.0/33" is not an IP address or CIDR network"#)
        );
        let err = Filter::from_json(r#"{"rules": [{"path_prefix": "x", "action": "deny"}]}"#).err();
        assert_eq!(
            err.as_deref(),
            Some(r#"rules[0]: path_prefix: "x" must start with '/'"#)
        );
        assert!(Filter::from_json(r#"{"alow": []}"#).is_err());
        assert!(Filter::from_json(r#"{"status": 200}"#).is_err());
    }
}
