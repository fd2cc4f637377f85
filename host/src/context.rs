//! The typed request context that plugins build up along the chain: who the
//! client is, what it may do, where it is. Plugins read it through the
//! `context` resource and change it only through edits, which the host
//! applies with the writer's permissions checked.

use std::collections::BTreeMap;

/// Facts established about one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The authenticated identity.
    pub principal: Option<String>,
    /// OAuth scopes.
    pub scopes: Vec<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// Flattened claims, in the order set.
    pub claims: Vec<(String, String)>,
    /// ISO 3166-1 alpha-2 country.
    pub country: Option<String>,
    /// Risk score, 0-100.
    pub risk_score: Option<u32>,
    /// Free key-value entries.
    pub entries: BTreeMap<String, String>,
}

impl RequestContext {
    /// Set or replace a claim.
    pub fn set_claim(&mut self, name: String, value: String) {
        match self.claims.iter_mut().find(|(n, _)| *n == name) {
            Some(claim) => claim.1 = value,
            None => self.claims.push((name, value)),
        }
    }
}
