//! A SecLang rule engine built to run the OWASP Core Rule Set fast.
//!
//! Rules are parsed and compiled once into a [`RuleSet`]; each request is a
//! [`Transaction`] that walks the per-phase rule lists over the request's
//! bytes (never lossy text), keeps the TX collection, and reports
//! [`Detection`]s and an optional [`Interruption`].

#![forbid(unsafe_code)]

pub mod body;
mod cache;
pub mod macros;
pub mod operator;
pub mod parse;
pub mod prefilter;
mod recycled_cache;
pub mod request;
pub mod rule;
pub mod ruleset;
pub mod transaction;
pub mod transform;
pub mod variable;

pub use request::RequestHead;
pub use rule::EngineMode;
pub use ruleset::{LoadError, RuleSet};
pub use transaction::{Detection, Interruption, Suspended, Transaction};
