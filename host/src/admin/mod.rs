//! The admin API: a listener of its own (loopback by default), every call
//! authenticated by a bearer token whose SHA-256 is in the config. It
//! issues, lists and revokes API keys; `portcullis keys ...` is its client.
//!
//! - [`server`]: the listener and the token check;
//! - [`keys`]: `GET/POST /keys`, `DELETE /keys/{id}`;
//! - [`client`]: the command-line client.

mod blocks;
mod changes;
pub mod client;
mod keys;
mod metrics;
pub mod plugins;
mod routes;
pub mod server;

use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

/// A new admin token and the `token_sha256` to put in the config.
pub fn new_token() -> anyhow::Result<(String, String)> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
    let token = hex::encode(bytes);
    let digest = token_sha256(&token);
    Ok((token, digest))
}

/// The digest a `token_sha256` setting names: 64 lower-case hex digits.
pub fn parse_token_sha256(text: &str) -> Result<[u8; 32], String> {
    let mut digest = [0u8; 32];
    let lower = !text.bytes().any(|b| b.is_ascii_uppercase());
    match hex::decode_to_slice(text, &mut digest) {
        Ok(()) if lower => Ok(digest),
        _ => Err(
            "give the lower-case hex SHA-256 of the token (64 digits); `portcullis admin-token` makes one"
                .into(),
        ),
    }
}

/// Lower-case hex SHA-256 of `token`.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
