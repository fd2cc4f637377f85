//! What a custom authorizer decides. An authorizer is a plugin run with
//! `role = "authorizer"`: the gateway hands it only requests whose identity
//! sources are all present and caches what it returns, so it should answer
//! from the identity sources alone, or say [`Authorization::resource_specific`]
//! when the method or path matter.

use crate::{Decision, Denial, Edit};

/// The context entry and denial header the gateway reads (and removes) to
/// learn that a decision is resource-specific.
const RESOURCE_SPECIFIC_ENTRY: &str = "portcullis.resource-specific";
const RESOURCE_SPECIFIC_HEADER: &str = "portcullis-resource-specific";

/// An authorizer's answer: allow with a principal and context, or refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    outcome: Outcome,
    context: Vec<(String, String)>,
    resource_specific: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Allow { principal: String },
    Refuse { status: u16, reason: String },
}

impl Authorization {
    /// Allow, as `principal`.
    pub fn allow(principal: impl Into<String>) -> Self {
        Self::with(Outcome::Allow {
            principal: principal.into(),
        })
    }

    /// Refuse with 401: the credentials are not valid. `reason` is for logs.
    pub fn unauthorized(reason: impl Into<String>) -> Self {
        Self::with(Outcome::Refuse {
            status: 401,
            reason: reason.into(),
        })
    }

    /// Refuse with 403: valid credentials, not allowed. `reason` is for logs.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Self::with(Outcome::Refuse {
            status: 403,
            reason: reason.into(),
        })
    }

    fn with(outcome: Outcome) -> Self {
        Self {
            outcome,
            context: Vec::new(),
            resource_specific: false,
        }
    }

    /// Add an entry to the request context (for later plugins, and for the
    /// upstream when the gateway's `context_headers` names it).
    pub fn context(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.context.push((key.into(), value.into()));
        self
    }

    /// This decision holds only for the request's method and path: the
    /// gateway caches it per resource, not per identity alone.
    pub fn resource_specific(mut self) -> Self {
        self.resource_specific = true;
        self
    }
}

impl From<Authorization> for Decision {
    fn from(authorization: Authorization) -> Decision {
        match authorization.outcome {
            Outcome::Allow { principal } => {
                let mut edits = vec![Edit::SetPrincipal(principal)];
                edits.extend(authorization.context.into_iter().map(Edit::SetEntry));
                if authorization.resource_specific {
                    edits.push(Edit::SetEntry((
                        RESOURCE_SPECIFIC_ENTRY.into(),
                        "true".into(),
                    )));
                }
                Decision::Continue(edits)
            }
            Outcome::Refuse { status, reason } => {
                let mut headers =
                    vec![("content-type".to_string(), "application/json".to_string())];
                if status == 401 {
                    headers.push(("www-authenticate".into(), "Custom".into()));
                }
                if authorization.resource_specific {
                    headers.push((RESOURCE_SPECIFIC_HEADER.into(), "true".into()));
                }
                let message = if status == 401 {
                    "unauthorized"
                } else {
                    "forbidden"
                };
                Decision::Deny(Denial {
                    status,
                    headers,
                    body: format!("{{\"error\":\"{message}\"}}").into_bytes(),
                    reason,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allow_sets_the_principal_context_and_marker() {
        let decision: Decision = Authorization::allow("alice")
            .context("tenant", "acme")
            .resource_specific()
            .into();
        assert_eq!(
            decision,
            Decision::Continue(vec![
                Edit::SetPrincipal("alice".into()),
                Edit::SetEntry(("tenant".into(), "acme".into())),
                Edit::SetEntry((RESOURCE_SPECIFIC_ENTRY.into(), "true".into())),
            ])
        );
    }

    #[test]
    fn a_refusal_is_a_small_json_denial() {
        let Decision::Deny(denial) = Authorization::forbidden("no-grant").into() else {
            panic!("not a denial");
        };
        assert_eq!(denial.status, 403);
        assert_eq!(denial.body, br#"{"error":"forbidden"}"#);
        assert_eq!(denial.reason, "no-grant");
    }
}
