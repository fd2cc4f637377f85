//! The conformance kit: `portcullis plugin test COMPONENT --cases FILE`
//! runs a component against recorded requests and the decisions expected
//! of it, without a gateway, so plugin authors in any language can test
//! what they build. The file format is in [`cases`]; the README documents it.

pub mod bench;
pub mod cases;
mod outcome;
pub mod run;

pub use run::{CaseResult, Report, run_file};
