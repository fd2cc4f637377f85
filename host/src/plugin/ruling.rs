//! A link's decision as the chain acts on it: fresh from a call, or given
//! again by a decision cache with its edits checked when it was kept.

use super::bindings::{Decision, Denial, Phase};
use super::edits::{CheckedEdits, Edits};
use crate::config::PluginRole;

/// Deny, or continue with these edits.
#[derive(Clone)]
pub enum Ruling {
    /// Answer with this response.
    Deny(Denial),
    /// Carry on after these edits.
    Continue(Edits),
}

impl From<Decision> for Ruling {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Deny(denial) => Ruling::Deny(denial),
            Decision::Continue(edits) => Ruling::Continue(Edits::Returned(edits)),
        }
    }
}

impl Ruling {
    /// `decision` of a plugin of `role` in a headers `phase`, as a
    /// decision cache keeps it. `None` if the host refuses one of its
    /// edits: such a decision is not kept, so every request meets the
    /// refusal as a call makes it.
    pub fn kept(decision: &Decision, role: PluginRole, phase: Phase) -> Option<Self> {
        Some(match decision {
            Decision::Deny(denial) => Ruling::Deny(denial.clone()),
            Decision::Continue(edits) => {
                let has_path = phase == Phase::RequestHeaders;
                Ruling::Continue(Edits::Kept(
                    CheckedEdits::check(edits, role, has_path).ok()?,
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http::HeaderMap;

    use super::*;
    use crate::context::RequestContext;
    use crate::plugin::bindings::Edit;
    use crate::plugin::edits::{EditError, EditTarget};

    fn continue_with(edits: Vec<Edit>) -> Decision {
        Decision::Continue(edits)
    }

    /// Apply `ruling`'s edits to fresh headers and context.
    fn applied(ruling: Ruling, role: PluginRole) -> Result<(HeaderMap, RequestContext), EditError> {
        let Ruling::Continue(edits) = ruling else {
            panic!("not a continue");
        };
        let mut headers = HeaderMap::new();
        headers.insert("server", "origin".parse().expect("value"));
        let mut context = Arc::new(RequestContext::default());
        let mut target = EditTarget {
            headers: &mut headers,
            path: None,
            body: None,
            context: &mut context,
        };
        edits.apply(role, &mut target)?;
        Ok((headers, Arc::unwrap_or_clone(context)))
    }

    #[test]
    fn a_kept_decision_edits_as_the_returned_one_does_every_time() {
        let decision = continue_with(vec![
            Edit::RemoveHeader("server".into()),
            Edit::SetHeader(("x-frame-options".into(), "DENY".into())),
            Edit::AppendHeader(("x-a".into(), "1".into())),
            Edit::AppendHeader(("x-a".into(), "2".into())),
            Edit::SetPrincipal("alice".into()),
        ]);
        let role = PluginRole::Authentication;
        let kept = Ruling::kept(&decision, role, Phase::ResponseHeaders).expect("kept");
        let returned = applied(decision.into(), role).expect("valid edits");
        for _ in 0..2 {
            let (headers, context) = applied(kept.clone(), role).expect("kept edits apply");
            assert_eq!(headers, returned.0);
            assert_eq!(context.principal.as_deref(), Some("alice"));
        }
        assert_eq!(returned.0.get_all("x-a").iter().count(), 2);
        assert!(!returned.0.contains_key("server"));
    }

    #[test]
    fn a_decision_with_a_refused_edit_is_not_kept() {
        let managed = continue_with(vec![Edit::SetHeader(("content-length".into(), "1".into()))]);
        let rewrite = continue_with(vec![Edit::RewritePath("/b".into())]);
        let principal = continue_with(vec![Edit::SetPrincipal("mallory".into())]);
        let policy = PluginRole::Policy;
        assert!(Ruling::kept(&managed, policy, Phase::RequestHeaders).is_none());
        // A path is a request's to rewrite.
        assert!(Ruling::kept(&rewrite, policy, Phase::RequestHeaders).is_some());
        assert!(Ruling::kept(&rewrite, policy, Phase::ResponseHeaders).is_none());
        assert!(Ruling::kept(&principal, policy, Phase::RequestHeaders).is_none());
        let denial = Decision::Deny(Denial {
            status: 403,
            reason: "no".into(),
            headers: vec![],
            body: vec![],
        });
        assert!(matches!(
            Ruling::kept(&denial, policy, Phase::RequestHeaders),
            Some(Ruling::Deny(d)) if d.status == 403
        ));
    }
}
