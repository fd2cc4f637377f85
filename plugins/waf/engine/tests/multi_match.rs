//! `multiMatch` rules whose pattern has literals are prefiltered on every
//! form of a value the operator sees: a literal that appears only before or
//! only after a transformation still lets the rule fire.

use std::path::Path;

use portcullis_waf_engine::{EngineMode, RequestHead, RuleSet, Transaction};

const RULES: &str = r#"
SecRule ARGS "@rx __proto__" "id:1001,phase:1,deny,multiMatch,t:none,t:urlDecodeUni"
SecRule ARGS "@rx ^(?:select)$" "id:1002,phase:1,pass,log,multiMatch,t:none,t:removeWhitespace"
SecRule ARGS "@rx foo bar" "id:1003,phase:1,pass,log,multiMatch,t:none,t:removeWhitespace"
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
    assert_eq!(detected("a=foo%20bar"), [1003]);
}

#[test]
fn a_literal_made_by_a_transformation_fires() {
    assert_eq!(detected("a=%5f_proto__"), [1001]);
    assert_eq!(detected("a=se%20lect"), [1002]);
}

#[test]
fn values_without_the_literals_in_any_form_do_not() {
    assert!(detected("a=prototype&b=se%20lec").is_empty());
}
