//! The literal prefilter never hides a match: a literal that appears only
//! after a rule's transformations (or, for `multiMatch`, only before them)
//! still lets the rule fire.

use std::path::Path;

use portcullis_waf_engine::{EngineMode, RequestHead, RuleSet, Transaction};

const RULES: &str = r#"
SecRule ARGS "@rx __proto__" "id:1001,phase:1,deny,multiMatch,t:none,t:urlDecodeUni"
SecRule ARGS "@rx ^(?:select)$" "id:1002,phase:1,pass,log,multiMatch,t:none,t:removeWhitespace"
SecRule ARGS "@rx foo bar" "id:1003,phase:1,pass,log,multiMatch,t:none,t:removeWhitespace"
SecRule ARGS_GET "@rx __proto__" "id:1004,phase:1,pass,log,t:none"
SecRule ARGS_GET "@rx __proto__" "id:1005,phase:1,pass,log,t:none,t:urlDecodeUni"
"#;

fn detected(query: &str) -> Vec<u32> {
    let mut rules = RuleSet::new();
    rules
        .add("multi.conf", RULES, Path::new("."))
        .expect("rules load");
    rules.finish().expect("rules finish");
    let head = RequestHead {
        method: "GET".into(),
        target: format!("/?{query}"),
        protocol: "HTTP/1.1".into(),
        headers: vec![(b"Host".to_vec(), b"example.com".to_vec())],
        ..RequestHead::default()
    };
    let mut transaction = Transaction::new(&rules, head, EngineMode::DetectionOnly);
    transaction.request_headers();
    transaction.detections().iter().map(|d| d.rule_id).collect()
}

#[test]
fn a_literal_in_the_untransformed_value_fires() {
    // Removing whitespace leaves the literal only in the raw form.
    assert!(detected("a=foo%20bar").contains(&1003));
}

#[test]
fn a_literal_made_by_a_transformation_fires() {
    assert!(detected("a=%255f_proto__").contains(&1001));
    assert!(detected("a=se%20lect").contains(&1002));
}

#[test]
fn values_without_the_literals_in_any_form_do_not() {
    assert!(detected("a=prototype&b=se%20lec").is_empty());
}

#[test]
fn a_list_that_changes_one_value_does_not_share_the_untransformed_union() {
    // 1004 works out ARGS_GET's untransformed groups first: `__proto__`
    // is in none of its values. 1005 decodes `%5f` in one of them.
    let fired = detected("a=plain&b=%255f_proto__");
    assert!(fired.contains(&1005) && !fired.contains(&1004), "{fired:?}");
}
