use crate::load_crs;

#[test]
fn every_crs_rule_loads() {
    let rules = load_crs("");
    assert!(rules.len() > 600, "{} rules", rules.len());
    let (covered, total) = rules.prefilter_coverage();
    let (literals, bytes) = rules.prefilter_size();
    println!(
        "{covered} of {total} regex and phrase-list links have a literal prefilter: {literals} literals, {bytes} bytes"
    );
    assert!(
        covered * 2 > total,
        "only {covered} of {total} regex and phrase-list links are prefiltered"
    );
}
