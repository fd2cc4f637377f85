//! `csrf`: cross-site request forgery protection for cookie-authenticated
//! routes, from the headers browsers send (`Sec-Fetch-Site`, `Origin`),
//! with no tokens to plant in pages. See [`check`] for the rule.

mod bypass;
pub mod check;

use portcullis_sdk::{Context, Decision, Phase, Policy, Request, export_policy};
use serde::Deserialize;

use check::{CrossOriginProtection, Facts, Refusal};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Origins allowed to send cross-origin requests (`https://partner.example`).
    #[serde(default)]
    trusted_origins: Vec<String>,
    /// Paths exempt from the check (`/webhooks/`, `/sso/{provider}`).
    #[serde(default)]
    bypass_paths: Vec<String>,
}

/// Build the protection from settings (JSON).
pub fn from_json(json: &str) -> Result<CrossOriginProtection, String> {
    let settings: Settings = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut protection = CrossOriginProtection::default();
    for origin in &settings.trusted_origins {
        protection
            .trust(origin)
            .map_err(|e| format!("trusted_origins: {e}"))?;
    }
    for pattern in &settings.bypass_paths {
        protection
            .bypass(pattern)
            .map_err(|e| format!("bypass_paths: {e}"))?;
    }
    Ok(protection)
}

impl Policy for CrossOriginProtection {
    const PHASES: &'static [Phase] = &[Phase::RequestHeaders];

    fn configure(config: &str) -> Result<Self, String> {
        from_json(config)
    }

    fn on_request(&self, _phase: Phase, request: &Request, _context: &Context) -> Decision {
        let method = request.method();
        if matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS") {
            return Decision::allow();
        }
        let (path, host) = (request.path(), request.authority());
        let (site, origin) = (request.header("sec-fetch-site"), request.header("origin"));
        let facts = Facts {
            method: &method,
            path: &path,
            host: &host,
            sec_fetch_site: site.as_deref(),
            origin: origin.as_deref(),
        };
        match self.check(&facts) {
            Ok(()) => Decision::allow(),
            Err(Refusal::CrossSite) => {
                Decision::deny_json(403, "csrf-cross-site", "cross-origin request refused")
            }
            Err(Refusal::OriginMismatch) => {
                Decision::deny_json(403, "csrf-origin-mismatch", "cross-origin request refused")
            }
        }
    }
}

export_policy!(CrossOriginProtection);
