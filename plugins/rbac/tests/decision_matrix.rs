//! The decision matrix: who may do what under one rule set.

use portcullis_plugin_rbac::rules::{Identity, Rule, RuleSettings, Verdict, evaluate};
use serde_json::json;

fn rules() -> Vec<Rule> {
    let settings: Vec<RuleSettings> = serde_json::from_value(json!([
        { "methods": ["GET"], "paths": ["/health"] },
        { "methods": ["GET"], "paths": ["/orders/**"], "scopes": ["orders:read"] },
        { "methods": ["POST", "PUT"], "paths": ["/orders/**"], "roles": ["clerk", "admin"] },
        { "methods": ["DELETE"], "paths": ["/orders/{id}"], "roles": ["admin"] },
        { "paths": ["/tenants/acme/**"], "claims": { "tenant": ["acme"] } },
        { "effect": "deny", "paths": ["/orders/**"], "roles": ["suspended"] },
        { "effect": "deny", "paths": ["/internal/**"] },
        { "paths": ["/internal/**"] },
    ]))
    .expect("rules");
    settings
        .into_iter()
        .enumerate()
        .map(|(i, r)| Rule::compile(i, r).expect("rule"))
        .collect()
}

fn who(
    principal: Option<&str>,
    scopes: &[&str],
    roles: &[&str],
    claims: &[(&str, &str)],
) -> Identity {
    Identity {
        principal: principal.map(str::to_string),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        roles: roles.iter().map(|s| s.to_string()).collect(),
        claims: claims
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
    }
}

#[test]
fn decision_matrix() {
    let rules = rules();
    let anonymous = who(None, &[], &[], &[]);
    let reader = who(Some("rita"), &["orders:read"], &[], &[]);
    let clerk = who(Some("carl"), &[], &["clerk"], &[]);
    let admin = who(Some("ada"), &["orders:read"], &["admin"], &[]);
    let suspended = who(Some("sam"), &["orders:read"], &["admin", "suspended"], &[]);
    let acme = who(Some("alex"), &[], &[], &[("tenant", "acme")]);
    let multi = who(Some("mo"), &[], &[], &[("tenant", "[\"globex\",\"acme\"]")]);
    let globex = who(Some("gus"), &[], &[], &[("tenant", "globex")]);

    use Verdict::*;
    let cases: &[(&Identity, &str, &str, Verdict)] = &[
        (&anonymous, "GET", "/health", Allow(0)),
        (&anonymous, "GET", "/orders/1", NoAllow),
        (&reader, "GET", "/orders/1", Allow(1)),
        (&reader, "POST", "/orders", NoAllow),
        (&clerk, "POST", "/orders", Allow(2)),
        (&clerk, "GET", "/orders/1", NoAllow),
        (&clerk, "DELETE", "/orders/1", NoAllow),
        (&admin, "DELETE", "/orders/1", Allow(3)),
        (&admin, "DELETE", "/orders/1/items", NoAllow),
        (&suspended, "GET", "/orders/1", ExplicitDeny(5)),
        (&suspended, "DELETE", "/orders/1", ExplicitDeny(5)),
        (&acme, "GET", "/tenants/acme/users", Allow(4)),
        (&multi, "PUT", "/tenants/acme/users/1", Allow(4)),
        (&globex, "GET", "/tenants/acme/users", NoAllow),
        (&admin, "GET", "/internal/metrics", ExplicitDeny(6)),
        (&anonymous, "GET", "/internal/metrics", ExplicitDeny(6)),
        (&admin, "GET", "/unknown", NoAllow),
    ];
    for (identity, method, path, expected) in cases {
        let verdict = evaluate(&rules, method, path, identity);
        assert_eq!(
            &verdict, expected,
            "{method} {path} for {:?}",
            identity.principal
        );
    }
}
