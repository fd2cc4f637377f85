//! `/blocks`: the threat block list: list (`GET`) and lift
//! (`DELETE /blocks/{key}`, e.g. `ip:203.0.113.9` or `account:alice`).

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::json;

use super::server::{Admin, error, json};

/// Route a `/blocks` call; `rest` is what follows `/blocks/`.
pub fn handle(admin: &Admin, method: &Method, rest: &str) -> Response<Full<Bytes>> {
    let gateway = admin.live.current();
    let Some(threats) = &gateway.threats else {
        return error(
            StatusCode::NOT_FOUND,
            "threat detection is not configured ([threats])",
        );
    };
    let key = crate::percent::decode(rest);
    match (method, key.as_str()) {
        (&Method::GET, "") => {
            let now = std::time::Instant::now();
            let blocks: Vec<_> = threats
                .blocks()
                .list()
                .into_iter()
                .map(|(key, block)| {
                    json!({
                        "key": key,
                        "detector": block.detector,
                        "reason": block.reason,
                        "expires_in_s": block.until.saturating_duration_since(now).as_secs(),
                    })
                })
                .collect();
            json(StatusCode::OK, &json!({ "blocks": blocks }))
        }
        (&Method::DELETE, key) if !key.is_empty() => {
            if threats.lift(key) {
                tracing::info!(target: "audit", key, "block lifted");
                json(StatusCode::OK, &json!({ "lifted": key }))
            } else {
                error(StatusCode::NOT_FOUND, "no such block")
            }
        }
        (_, "") => error(StatusCode::METHOD_NOT_ALLOWED, "use GET"),
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "use DELETE /blocks/{key}"),
    }
}
