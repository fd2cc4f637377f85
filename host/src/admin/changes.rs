//! Applying a change to the running configuration and answering for it:
//! 200 with what was applied, or why nothing changed.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::json;

use super::server::{Admin, error, json};
use crate::config::Config;
use crate::gateway::BuildError;
use crate::live::Applied;

/// Why an edit cannot even be tried.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The route or plugin named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The change contradicts the configuration (e.g. removing a plugin a
    /// route still uses).
    #[error("{0}")]
    Conflict(String),
}

/// Run `edit` on a copy of the running configuration and apply the result.
pub async fn apply(
    admin: &Admin,
    what: &str,
    edit: impl FnOnce(&mut Config) -> Result<(), EditError>,
) -> Response<Full<Bytes>> {
    match admin.live.change(what, edit).await {
        Ok(outcome) => answer(outcome),
        Err(EditError::NotFound(message)) => error(StatusCode::NOT_FOUND, &message),
        Err(EditError::Conflict(message)) => error(StatusCode::CONFLICT, &message),
    }
}

/// `POST /config/reload`: read the file again.
pub async fn reload(admin: &Admin) -> Response<Full<Bytes>> {
    answer(admin.live.reload("admin API").await)
}

/// 200 with what was applied, or 422 with the reason it was refused.
fn answer(outcome: Result<Applied, BuildError>) -> Response<Full<Bytes>> {
    match outcome {
        Ok(applied) => json(StatusCode::OK, &json!({ "applied": applied })),
        Err(BuildError::Config(e)) => json(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({
                "error": "the change was refused; the running configuration is unchanged",
                "key": e.key,
                "reason": e.reason,
            }),
        ),
        Err(e) => json(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({
                "error": "the change was refused; the running configuration is unchanged",
                "reason": format!("{e:#}"),
            }),
        ),
    }
}

/// Whether `name` can name a plugin or route in a URL and a config key.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}
