//! Test helpers that read as sentences: start an origin, start a gateway
//! with a config, send a request, assert.

pub mod client;
pub mod documents;
pub mod fixtures;
pub mod gateway;
pub mod geo;
pub mod jwt;
pub mod modsecurity;
pub mod origin;
pub mod pki;
pub mod raw;
pub mod redis;
pub mod reflect;
pub mod ring_check;
pub mod scripted;
pub mod service;
pub mod waf;

pub use client::{get, send};
pub use fixtures::fixture;
pub use gateway::Gateway;
pub use origin::Origin;
