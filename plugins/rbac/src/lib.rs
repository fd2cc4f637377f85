//! `rbac`: resource policies over the identity earlier plugins put in the
//! request context. Rules name methods and path patterns ([`pattern`]) and
//! the scopes, roles or claims they need ([`rules`]); an applicable deny
//! rule beats any allow, and a request no allow rule grants is denied. In
//! shadow mode nothing is refused: would-be denials are logged (grant the
//! `log` capability).

pub mod pattern;
pub mod rules;

use portcullis_sdk::{Context, Decision, Phase, Policy, Request, export_policy};
use serde::Deserialize;

use rules::{Identity, Rule, RuleSettings, Verdict};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    rules: Vec<RuleSettings>,
    #[serde(default)]
    shadow: bool,
}

/// A configured `rbac` plugin instance.
pub struct Rbac {
    rules: Vec<Rule>,
    shadow: bool,
    needs: rules::Needs,
}

impl Rbac {
    /// Parse and compile settings (JSON).
    pub fn from_json(json: &str) -> Result<Self, String> {
        let settings: Settings = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let rules = settings
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, rule)| Rule::compile(i, rule))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            needs: rules::Needs::of(&rules),
            rules,
            shadow: settings.shadow,
        })
    }
}

impl Policy for Rbac {
    const PHASES: &'static [Phase] = &[Phase::RequestHeaders];

    fn configure(config: &str) -> Result<Self, String> {
        Rbac::from_json(config)
    }

    fn on_request(&self, _phase: Phase, request: &Request, context: &Context) -> Decision {
        // Only what some rule looks at crosses from the host.
        let needs = &self.needs;
        let who = Identity {
            principal: context.principal(),
            scopes: if needs.scopes {
                context.scopes()
            } else {
                Vec::new()
            },
            roles: if needs.roles {
                context.roles()
            } else {
                Vec::new()
            },
            claims: if needs.claims {
                context.claims()
            } else {
                Vec::new()
            },
        };
        let (method, path) = (request.method(), request.path());
        let verdict = rules::evaluate(&self.rules, &method, &path, &who);
        if !self.shadow {
            // The verdict follows from the rules and what was read above
            // alone: the gateway may give it again for as long as it keeps
            // decisions, for requests with the same identity, method and path.
            portcullis_sdk::host::reusable_for(std::time::Duration::MAX);
        }
        let reason = match verdict {
            Verdict::Allow(_) => return Decision::allow(),
            Verdict::ExplicitDeny(index) => format!("denied by rule {index}"),
            Verdict::NoAllow => "no rule allows it".to_string(),
        };
        if self.shadow {
            portcullis_sdk::host::log_warn(&format!(
                "rbac shadow mode: would deny {method} {path} for {}: {reason}",
                who.principal.as_deref().unwrap_or("an anonymous client")
            ));
            return Decision::allow();
        }
        if who.principal.is_none() {
            Decision::deny_json(401, "rbac-unauthenticated", "authentication required")
        } else {
            Decision::deny_json(403, "rbac-denied", "forbidden")
        }
    }
}

export_policy!(Rbac);
