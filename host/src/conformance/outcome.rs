//! What a plugin decided for a case, in the case file's terms, and how it
//! is checked against what the case expects.

use serde::Serialize;

use super::cases::{EditRecord, Expected, RecordedContext};
use crate::plugin::bindings::Edit;

/// What happened to one case.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum Outcome {
    /// Every phase let the request go on, with these edits in order.
    Continue {
        /// All phases' edits.
        edits: Vec<EditRecord>,
    },
    /// A phase answered.
    Deny {
        /// Status.
        status: u16,
        /// Reason for logs.
        reason: String,
        /// Body, as text.
        body: String,
        /// Headers.
        headers: Vec<(String, String)>,
    },
    /// The plugin failed (trap, timeout, configure error): the gateway
    /// would answer 503.
    Error {
        /// What failed.
        message: String,
    },
}

/// The file's form of a WIT edit.
pub fn edit_record(edit: Edit) -> EditRecord {
    match edit {
        Edit::SetHeader(h) => EditRecord::SetHeader(h),
        Edit::AppendHeader(h) => EditRecord::AppendHeader(h),
        Edit::RemoveHeader(name) => EditRecord::RemoveHeader(name),
        Edit::RewritePath(path) => EditRecord::RewritePath(path),
        Edit::ReplaceBody(body) => {
            EditRecord::ReplaceBody(String::from_utf8_lossy(&body).into_owned())
        }
        Edit::SetPrincipal(p) => EditRecord::SetPrincipal(p),
        Edit::AddScopes(s) => EditRecord::AddScopes(s),
        Edit::AddRoles(r) => EditRecord::AddRoles(r),
        Edit::SetClaim(c) => EditRecord::SetClaim(c),
        Edit::SetCountry(c) => EditRecord::SetCountry(c),
        Edit::SetRiskScore(r) => EditRecord::SetRiskScore(r),
        Edit::SetEntry(e) => EditRecord::SetEntry(e),
    }
}

/// The context fields the edits set.
fn context_set_by(edits: &[EditRecord]) -> RecordedContext {
    let mut context = RecordedContext::default();
    for edit in edits {
        match edit {
            EditRecord::SetPrincipal(p) => context.principal = Some(p.clone()),
            EditRecord::AddScopes(s) => context.scopes.extend(s.iter().cloned()),
            EditRecord::AddRoles(r) => context.roles.extend(r.iter().cloned()),
            EditRecord::SetClaim((k, v)) => {
                context.claims.insert(k.clone(), v.clone());
            }
            EditRecord::SetCountry(c) => context.country = Some(c.clone()),
            EditRecord::SetEntry((k, v)) => {
                context.entries.insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
    context
}

/// Where `outcome` differs from `expected`; empty when it passes.
pub fn mismatches(expected: &Expected, outcome: &Outcome) -> Vec<String> {
    let mut found = Vec::new();
    match (expected, outcome) {
        (Expected::Continue { edits, context }, Outcome::Continue { edits: got }) => {
            if let Some(edits) = edits
                && edits != got
            {
                found.push(format!(
                    "edits: expected {}, got {}",
                    json(edits),
                    json(got)
                ));
            }
            if let Some(context) = context {
                check_context(context, &context_set_by(got), &mut found);
            }
        }
        (
            Expected::Deny {
                status,
                reason,
                body,
                headers,
            },
            Outcome::Deny {
                status: got_status,
                reason: got_reason,
                body: got_body,
                headers: got_headers,
            },
        ) => {
            if status != got_status {
                found.push(format!("status: expected {status}, got {got_status}"));
            }
            if let Some(reason) = reason
                && reason != got_reason
            {
                found.push(format!("reason: expected {reason:?}, got {got_reason:?}"));
            }
            if let Some(body) = body
                && body != got_body
            {
                found.push(format!("body: expected {body:?}, got {got_body:?}"));
            }
            for (name, value) in headers.iter().flatten() {
                let present = got_headers
                    .iter()
                    .any(|(n, v)| n.eq_ignore_ascii_case(name) && v == value);
                if !present {
                    found.push(format!("header {name}: {value:?} not in the answer"));
                }
            }
        }
        (expected, outcome) => found.push(format!(
            "expected {}, got {}",
            match expected {
                Expected::Continue { .. } => "continue".to_string(),
                Expected::Deny { status, .. } => format!("deny {status}"),
            },
            json(outcome)
        )),
    }
    found
}

fn check_context(expected: &RecordedContext, got: &RecordedContext, found: &mut Vec<String>) {
    if expected.principal.is_some() && expected.principal != got.principal {
        found.push(format!(
            "principal: expected {:?}, got {:?}",
            expected.principal, got.principal
        ));
    }
    if expected.country.is_some() && expected.country != got.country {
        found.push(format!(
            "country: expected {:?}, got {:?}",
            expected.country, got.country
        ));
    }
    for (name, list, got_list) in [
        ("scopes", &expected.scopes, &got.scopes),
        ("roles", &expected.roles, &got.roles),
    ] {
        for item in list.iter().filter(|item| !got_list.contains(item)) {
            found.push(format!("{name}: {item:?} not added"));
        }
    }
    for (name, map, got_map) in [
        ("claims", &expected.claims, &got.claims),
        ("entries", &expected.entries, &got.entries),
    ] {
        for (key, value) in map {
            if got_map.get(key) != Some(value) {
                found.push(format!(
                    "{name}.{key}: expected {value:?}, got {:?}",
                    got_map.get(key)
                ));
            }
        }
    }
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_expectation_is_met_by_the_edits_that_set_it() {
        let expected: Expected = serde_json::from_str(
            r#"{"decision": "continue", "context": {"principal": "acme", "entries": {"tenant": "acme"}}}"#,
        )
        .expect("expectation");
        let outcome = Outcome::Continue {
            edits: vec![
                EditRecord::SetPrincipal("acme".into()),
                EditRecord::SetEntry(("tenant".into(), "acme".into())),
                EditRecord::SetEntry(("other".into(), "x".into())),
            ],
        };
        assert!(mismatches(&expected, &outcome).is_empty());
        let wrong = Outcome::Continue {
            edits: vec![EditRecord::SetPrincipal("other".into())],
        };
        assert_eq!(mismatches(&expected, &wrong).len(), 2);
    }

    #[test]
    fn a_denial_is_checked_on_what_the_case_gives() {
        let expected: Expected = serde_json::from_str(
            r#"{"decision": "deny", "status": 401, "headers": [["WWW-Authenticate", "Custom"]]}"#,
        )
        .expect("expectation");
        let outcome = Outcome::Deny {
            status: 401,
            reason: "stale".into(),
            body: "{}".into(),
            headers: vec![("www-authenticate".into(), "Custom".into())],
        };
        assert!(mismatches(&expected, &outcome).is_empty());
        let allowed = Outcome::Continue { edits: vec![] };
        assert_eq!(
            mismatches(&expected, &allowed),
            vec![r#"expected deny 401, got {"decision":"continue","edits":[]}"#]
        );
    }
}
