use crate::load_crs;

#[test]
fn every_crs_rule_loads() {
    let rules = load_crs("");
    assert!(rules.len() > 600, "{} rules", rules.len());
}
