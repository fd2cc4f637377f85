//! A route's geographic policy: which countries pass, what happens to
//! addresses the database does not know and to private ones, and what a
//! refused client is told.

use std::net::IpAddr;

use serde::Deserialize;

use crate::countries;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Only these countries (codes or groups) pass.
    allow: Option<Vec<String>>,
    /// These countries are refused; others pass.
    deny: Option<Vec<String>>,
    /// Addresses the database does not place: `deny` (default) or `allow`.
    #[serde(default)]
    unknown: Choice,
    /// Private, loopback and link-local addresses: `allow` (default) or `deny`.
    #[serde(default = "allow")]
    private: Choice,
    /// 403 (default) or 451 Unavailable For Legal Reasons.
    #[serde(default = "default_status")]
    status: u16,
    /// The `error` text of a refusal.
    message: Option<String>,
    /// Send the country to the upstream in this header (set, or removed
    /// when unknown, so a client cannot supply its own).
    forward_header: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    #[default]
    Deny,
    Allow,
}

fn allow() -> Choice {
    Choice::Allow
}

fn default_status() -> u16 {
    403
}

#[derive(Debug)]
enum Countries {
    Allow(Vec<String>),
    Deny(Vec<String>),
}

/// A configured policy.
#[derive(Debug)]
pub struct GeoPolicy {
    countries: Countries,
    unknown: Choice,
    private: Choice,
    /// The refusal's status.
    pub status: u16,
    /// The refusal's message.
    pub message: String,
    /// The header the country goes upstream in.
    pub forward_header: Option<String>,
}

/// Where a client is, as far as the policy is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A private, loopback or link-local address.
    Private,
    /// A public address in this country.
    Country(String),
    /// A public address the database does not place.
    Unknown,
}

/// Whether `ip` is not on the public internet.
pub fn is_private(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            // 100.64.0.0/10 is carrier-grade NAT space: not a place either.
            let shared = v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64;
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || shared
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
        }
    }
}

impl GeoPolicy {
    /// Parse settings (JSON).
    pub fn from_json(json: &str) -> Result<Self, String> {
        let settings: Settings = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let expand = |list: &[String], key: &str| -> Result<Vec<String>, String> {
            let mut codes = Vec::new();
            for entry in list {
                codes.extend(countries::expand(entry).map_err(|e| format!("{key}: {e}"))?);
            }
            Ok(codes)
        };
        let countries = match (&settings.allow, &settings.deny) {
            (Some(allow), None) => Countries::Allow(expand(allow, "allow")?),
            (None, Some(deny)) => Countries::Deny(expand(deny, "deny")?),
            _ => return Err("give exactly one of `allow` and `deny`".into()),
        };
        if !matches!(settings.status, 403 | 451) {
            return Err("status: 403 or 451".into());
        }
        if let Some(header) = &settings.forward_header
            && (header.is_empty()
                || !header
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Err(format!("forward_header: `{header}` is not a header name"));
        }
        Ok(Self {
            countries,
            unknown: settings.unknown,
            private: settings.private,
            status: settings.status,
            message: settings
                .message
                .unwrap_or_else(|| "not available in your country".into()),
            forward_header: settings.forward_header.map(|h| h.to_ascii_lowercase()),
        })
    }

    /// Whether a client at `place` passes.
    pub fn allows(&self, place: &Place) -> bool {
        match place {
            Place::Private => self.private == Choice::Allow,
            Place::Unknown => self.unknown == Choice::Allow,
            Place::Country(code) => match &self.countries {
                Countries::Allow(list) => list.iter().any(|c| c == code),
                Countries::Deny(list) => !list.iter().any(|c| c == code),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{GeoPolicy, Place, is_private};

    #[test]
    fn allow_lists_deny_lists_and_the_unknown_and_private_choices() {
        let eu = GeoPolicy::from_json(r#"{"allow": ["EU", "CH"]}"#).expect("valid");
        assert!(eu.allows(&Place::Country("DE".into())));
        assert!(eu.allows(&Place::Country("CH".into())));
        assert!(!eu.allows(&Place::Country("US".into())));
        assert!(!eu.allows(&Place::Unknown), "unknown is refused by default");
        assert!(eu.allows(&Place::Private), "private is allowed by default");
        let deny = GeoPolicy::from_json(
            r#"{"deny": ["KP"], "unknown": "allow", "private": "deny", "status": 451}"#,
        )
        .expect("valid");
        assert!(!deny.allows(&Place::Country("KP".into())));
        assert!(deny.allows(&Place::Country("FR".into())));
        assert!(deny.allows(&Place::Unknown));
        assert!(!deny.allows(&Place::Private));
        assert!(GeoPolicy::from_json(r#"{"allow": ["EU"], "deny": ["US"]}"#).is_err());
        assert!(GeoPolicy::from_json(r#"{"allow": ["Europe"]}"#).is_err());
        assert!(GeoPolicy::from_json(r#"{"allow": ["EU"], "status": 404}"#).is_err());
    }

    #[test]
    fn private_addresses_include_mapped_ones() {
        for ip in [
            "10.1.2.3",
            "192.168.0.1",
            "127.0.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "100.64.0.1",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8"] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip}");
        }
    }
}
