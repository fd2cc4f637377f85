//! The gateway's configuration: a TOML file, strict (`deny_unknown_fields`),
//! read and validated as a whole before anything uses it.
//!
//! [`model`] is the file's shape, [`load`] turns a file into a checked
//! [`Config`], [`secret`] resolves `env:` and `file:` values.

mod load;
pub mod model;
mod secret;
mod upstreams;

pub use load::{ConfigError, check_config, load_file, load_file_offline, read_file};
pub use model::*;
