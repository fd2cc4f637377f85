//! The engine against the real Core Rule Set.

mod conformance;
mod ftw;
mod load;
#[allow(dead_code)]
mod requests;
mod suspend;

use portcullis_waf_engine::RuleSet;

pub use requests::crs_dir;

/// The CRS with `before` loaded after crs-setup and before the rule files.
pub fn load_crs(before: &str) -> RuleSet {
    requests::load_crs(&crs_dir(), before).expect("the CRS loads")
}
