//! `geo`: requests allowed or refused by the client's country, looked up
//! natively through the `geo` capability from the client address the
//! gateway resolved (`X-Forwarded-For` counts only from trusted proxies).
//! The country goes into the request context for later plugins, and
//! optionally to the upstream in a header.

pub mod countries;
pub mod policy;

use std::borrow::Cow;
use std::net::IpAddr;

use portcullis_sdk::{
    Context, Decision, Denial, Edit, Phase, Policy, Request, export_policy, host,
};

use policy::{GeoPolicy, Place, is_private};

impl Policy for GeoPolicy {
    const PHASES: &'static [Phase] = &[Phase::RequestHeaders];

    fn configure(config: &str) -> Result<Self, String> {
        GeoPolicy::from_json(config)
    }

    fn on_request(&self, _phase: Phase, request: &Request, _context: &Context) -> Decision {
        let client = request.client_ip();
        let place = match client.parse::<IpAddr>() {
            Ok(ip) if is_private(ip) => Place::Private,
            Ok(ip) => {
                // The gateway's own text of the address, unless it is an
                // IPv4-mapped IPv6 one: formatting an address in Wasm
                // costs more than the lookup does.
                let canonical = ip.to_canonical();
                let text = if canonical == ip {
                    Cow::Borrowed(client.as_str())
                } else {
                    Cow::Owned(canonical.to_string())
                };
                host::geo_country(&text).map_or(Place::Unknown, Place::Country)
            }
            Err(_) => Place::Unknown,
        };
        if !self.allows(&place) {
            // Refusals by country, in the gateway's metrics.
            let label = match &place {
                Place::Country(code) => code.as_str(),
                Place::Private => "private",
                Place::Unknown => "unknown",
            };
            host::count("refused_by_country", Some(label), 1);
            // The audit line says which country was refused.
            let reason = format!("geo-refused country={label}");
            let body = serde_json::json!({ "error": self.message }).to_string();
            return Decision::Deny(Denial {
                status: self.status,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.into_bytes(),
                reason,
            });
        }
        // Allowed on the client address, read above, and the country
        // database's answer for it, which the gateway ties to the database
        // in use: it may give this again to the same address until another
        // database is loaded, for as long as it keeps decisions.
        host::reusable_for(std::time::Duration::MAX);
        let mut edits = Vec::new();
        let country = match &place {
            Place::Country(code) => Some(code.clone()),
            _ => None,
        };
        if let Some(code) = &country {
            edits.push(Edit::SetCountry(code.clone()));
        }
        if let Some(header) = &self.forward_header {
            edits.push(match &country {
                Some(code) => Edit::SetHeader((header.clone(), code.clone())),
                None => Edit::RemoveHeader(header.clone()),
            });
        }
        Decision::allow_with(edits)
    }
}

export_policy!(GeoPolicy);
