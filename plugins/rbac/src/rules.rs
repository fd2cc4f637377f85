//! Rules and their evaluation: explicit deny beats allow, and a request no
//! allow rule grants is denied.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::pattern::PathPattern;

/// A rule as written in settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    /// `allow` (default) or `deny`.
    #[serde(default)]
    pub effect: Effect,
    /// Methods (any if empty).
    #[serde(default)]
    pub methods: Vec<String>,
    /// Path patterns (any path if empty).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Scopes the principal must all have.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Roles (or consumer groups) of which the principal needs one.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Claims that must hold one of the listed values.
    #[serde(default)]
    pub claims: BTreeMap<String, Vec<String>>,
    /// Whether the rule needs an authenticated principal (default: true
    /// when it names scopes, roles or claims).
    #[serde(default)]
    pub authenticated: Option<bool>,
}

/// What a matching rule does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Grant.
    #[default]
    Allow,
    /// Refuse, whatever else grants.
    Deny,
}

/// The identity facts a rule looks at, taken from the request context.
pub struct Identity {
    /// The principal, if authenticated.
    pub principal: Option<String>,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Its roles.
    pub roles: Vec<String>,
    /// Its claims (text; arrays as JSON).
    pub claims: Vec<(String, String)>,
}

/// A compiled rule.
pub struct Rule {
    index: usize,
    effect: Effect,
    methods: Vec<String>,
    paths: Vec<PathPattern>,
    scopes: Vec<String>,
    roles: Vec<String>,
    claims: BTreeMap<String, Vec<String>>,
    authenticated: bool,
}

/// Which identity facts any rule looks at.
#[derive(Debug, Default)]
pub struct Needs {
    /// Some rule names scopes.
    pub scopes: bool,
    /// Some rule names roles.
    pub roles: bool,
    /// Some rule names claims.
    pub claims: bool,
}

impl Needs {
    /// What `rules` look at.
    pub fn of(rules: &[Rule]) -> Self {
        Self {
            scopes: rules.iter().any(|r| !r.scopes.is_empty()),
            roles: rules.iter().any(|r| !r.roles.is_empty()),
            claims: rules.iter().any(|r| !r.claims.is_empty()),
        }
    }
}

/// The outcome of evaluating all rules.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Rule `index` allows it and no deny rule applies.
    Allow(usize),
    /// Deny rule `index` applies.
    ExplicitDeny(usize),
    /// No allow rule grants it.
    NoAllow,
}

impl Rule {
    /// Compile rule number `index`.
    pub fn compile(index: usize, settings: RuleSettings) -> Result<Self, String> {
        let paths = settings
            .paths
            .iter()
            .map(|p| PathPattern::parse(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("rules[{index}]: {e}"))?;
        let needs_identity = !settings.scopes.is_empty()
            || !settings.roles.is_empty()
            || !settings.claims.is_empty();
        Ok(Self {
            index,
            effect: settings.effect,
            methods: settings
                .methods
                .iter()
                .map(|m| m.to_ascii_uppercase())
                .collect(),
            paths,
            scopes: settings.scopes,
            roles: settings.roles,
            claims: settings.claims,
            authenticated: settings.authenticated.unwrap_or(needs_identity),
        })
    }

    fn targets(&self, method: &str, path: &str) -> bool {
        (self.methods.is_empty() || self.methods.iter().any(|m| m == method))
            && (self.paths.is_empty() || self.paths.iter().any(|p| p.matches(path)))
    }

    fn holds_for(&self, who: &Identity) -> bool {
        if self.authenticated && who.principal.is_none() {
            return false;
        }
        self.scopes.iter().all(|s| who.scopes.contains(s))
            && (self.roles.is_empty() || self.roles.iter().any(|r| who.roles.contains(r)))
            && self.claims.iter().all(|(name, allowed)| {
                who.claims
                    .iter()
                    .filter(|(n, _)| n == name)
                    .any(|(_, value)| claim_matches(value, allowed))
            })
    }
}

/// A claim value (text, or a JSON array as text) against allowed values.
fn claim_matches(value: &str, allowed: &[String]) -> bool {
    if allowed.iter().any(|a| a == value) {
        return true;
    }
    match serde_json::from_str::<Value>(value) {
        Ok(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .any(|item| allowed.iter().any(|a| a == item)),
        _ => false,
    }
}

/// Evaluate `rules` for a request.
pub fn evaluate(rules: &[Rule], method: &str, path: &str, who: &Identity) -> Verdict {
    let applicable = |effect: Effect| {
        rules
            .iter()
            .filter(move |r| r.effect == effect && r.targets(method, path) && r.holds_for(who))
            .map(|r| r.index)
            .next()
    };
    if let Some(index) = applicable(Effect::Deny) {
        return Verdict::ExplicitDeny(index);
    }
    match applicable(Effect::Allow) {
        Some(index) => Verdict::Allow(index),
        None => Verdict::NoAllow,
    }
}
