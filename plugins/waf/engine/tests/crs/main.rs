//! The engine against the real Core Rule Set.

mod conformance;
mod ftw;
mod load;
#[allow(dead_code)]
mod requests;
mod suspend;

use std::path::{Path, PathBuf};

use portcullis_waf_engine::RuleSet;

pub fn crs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/corpora/owasp-crs-v4.28.0")
}

/// The CRS with `before` loaded after crs-setup and before the rule files.
pub fn load_crs(before: &str) -> RuleSet {
    let crs = crs_dir();
    let mut rules = RuleSet::new();
    let setup = std::fs::read_to_string(crs.join("crs-setup.conf.example")).expect("setup file");
    rules
        .add("crs-setup.conf.example", &setup, &crs.join("rules"))
        .expect("setup loads");
    rules
        .add("test-setup", before, &crs.join("rules"))
        .expect("test setup loads");
    rules.add_dir(&crs.join("rules")).expect("rules load");
    rules.finish().expect("phases resolve");
    rules
}
