//! SecLang text to rule parts.

pub mod actions;
pub mod directives;
pub mod targets;
