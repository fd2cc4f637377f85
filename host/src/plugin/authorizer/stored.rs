//! Decisions as stored in the shared cache (Redis): a small JSON form of
//! the WIT `decision`, or the marker that the identity's decisions are
//! per resource. Bodies are base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::cache::Cached;
use crate::plugin::bindings::{Decision, Denial, Edit};

/// `cached` as bytes to store.
pub fn encode(cached: &Cached<Decision>) -> Vec<u8> {
    let value = match cached {
        Cached::PerResource => json!({ "per_resource": true }),
        Cached::Decision(Decision::Continue(edits)) => {
            json!({ "continue": edits.iter().map(edit_json).collect::<Vec<_>>() })
        }
        Cached::Decision(Decision::Deny(denial)) => json!({ "deny": {
            "status": denial.status,
            "headers": denial.headers,
            "body": STANDARD.encode(&denial.body),
            "reason": denial.reason,
        }}),
    };
    value.to_string().into_bytes()
}

/// Stored bytes back; `None` for anything this version cannot read
/// (treated as a miss).
pub fn decode(bytes: &[u8]) -> Option<Cached<Decision>> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    if value.get("per_resource").is_some() {
        return Some(Cached::PerResource);
    }
    if let Some(edits) = value.get("continue") {
        let edits = edits
            .as_array()?
            .iter()
            .map(edit_of)
            .collect::<Option<Vec<_>>>()?;
        return Some(Cached::Decision(Decision::Continue(edits)));
    }
    let deny = value.get("deny")?;
    Some(Cached::Decision(Decision::Deny(Denial {
        status: u16::try_from(deny.get("status")?.as_u64()?).ok()?,
        headers: serde_json::from_value(deny.get("headers")?.clone()).ok()?,
        body: STANDARD.decode(deny.get("body")?.as_str()?).ok()?,
        reason: deny.get("reason")?.as_str()?.to_string(),
    })))
}

fn edit_json(edit: &Edit) -> Value {
    match edit {
        Edit::SetHeader(pair) => json!({ "set_header": pair }),
        Edit::AppendHeader(pair) => json!({ "append_header": pair }),
        Edit::RemoveHeader(name) => json!({ "remove_header": name }),
        Edit::RewritePath(path) => json!({ "rewrite_path": path }),
        Edit::ReplaceBody(body) => json!({ "replace_body": STANDARD.encode(body) }),
        Edit::SetPrincipal(principal) => json!({ "set_principal": principal }),
        Edit::AddScopes(scopes) => json!({ "add_scopes": scopes }),
        Edit::AddRoles(roles) => json!({ "add_roles": roles }),
        Edit::SetClaim(claim) => json!({ "set_claim": claim }),
        Edit::SetCountry(country) => json!({ "set_country": country }),
        Edit::SetRiskScore(score) => json!({ "set_risk_score": score }),
        Edit::SetEntry(entry) => json!({ "set_entry": entry }),
    }
}

fn edit_of(value: &Value) -> Option<Edit> {
    let (kind, arg) = value.as_object()?.iter().next()?;
    let text = || arg.as_str().map(str::to_string);
    let pair = || serde_json::from_value::<(String, String)>(arg.clone()).ok();
    let list = || serde_json::from_value::<Vec<String>>(arg.clone()).ok();
    Some(match kind.as_str() {
        "set_header" => Edit::SetHeader(pair()?),
        "append_header" => Edit::AppendHeader(pair()?),
        "remove_header" => Edit::RemoveHeader(text()?),
        "rewrite_path" => Edit::RewritePath(text()?),
        "replace_body" => Edit::ReplaceBody(STANDARD.decode(arg.as_str()?).ok()?),
        "set_principal" => Edit::SetPrincipal(text()?),
        "add_scopes" => Edit::AddScopes(list()?),
        "add_roles" => Edit::AddRoles(list()?),
        "set_claim" => Edit::SetClaim(pair()?),
        "set_country" => Edit::SetCountry(text()?),
        "set_risk_score" => Edit::SetRiskScore(u32::try_from(arg.as_u64()?).ok()?),
        "set_entry" => Edit::SetEntry(pair()?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_edit_and_a_denial_survive_the_round_trip() {
        let pair = ("x-a".to_string(), "1".to_string());
        let allow = Decision::Continue(vec![
            Edit::SetHeader(pair.clone()),
            Edit::AppendHeader(pair.clone()),
            Edit::RemoveHeader("x-b".into()),
            Edit::RewritePath("/v2".into()),
            Edit::ReplaceBody(vec![0, 255, 10]),
            Edit::SetPrincipal("acme".into()),
            Edit::AddScopes(vec!["read".into()]),
            Edit::AddRoles(vec!["admin".into()]),
            Edit::SetClaim(pair.clone()),
            Edit::SetCountry("DE".into()),
            Edit::SetRiskScore(7),
            Edit::SetEntry(pair),
        ]);
        let deny = Decision::Deny(Denial {
            status: 403,
            headers: vec![("www-authenticate".into(), "Bearer".into())],
            body: b"{\"error\":\"forbidden\"}".to_vec(),
            reason: "tenant-suspended".into(),
        });
        for decision in [allow, deny] {
            let back = decode(&encode(&Cached::Decision(decision.clone())));
            match back {
                Some(Cached::Decision(back)) => {
                    assert_eq!(format!("{back:?}"), format!("{decision:?}"))
                }
                _ => panic!("not decoded"),
            }
        }
        assert!(matches!(
            decode(&encode(&Cached::PerResource)),
            Some(Cached::PerResource)
        ));
        assert!(decode(b"{\"continue\":[{\"launch_rockets\":1}]}").is_none());
    }
}
