//! {{name}}: requests without the configured header get 400; the others
//! go on with its value in the context entry `api_version`.

use std::sync::OnceLock;

wit_bindgen::generate!({ path: "wit", world: "portcullis:policy/no-capabilities" });

use exports::portcullis::policy::policy::Guest;
use portcullis::policy::types::{Context, Decision, Denial, Edit, Phase, Request, Response};

/// The header to require, from the settings.
static HEADER: OnceLock<String> = OnceLock::new();

struct Plugin;

impl Guest for Plugin {
    fn phases() -> Vec<Phase> {
        vec![Phase::RequestHeaders]
    }

    fn configure(config: String) -> Result<(), String> {
        let settings: serde_json::Value =
            serde_json::from_str(&config).map_err(|e| format!("settings: {e}"))?;
        let header = settings["header"]
            .as_str()
            .filter(|h| !h.is_empty())
            .ok_or("header: give the header to require")?;
        HEADER
            .set(header.to_ascii_lowercase())
            .map_err(|_| "configured twice".to_string())
    }

    fn on_request(_phase: Phase, request: &Request, _context: &Context) -> Decision {
        let Some(header) = HEADER.get() else {
            return deny(503, "not-configured", "unavailable");
        };
        match request.header(header) {
            Some(value) => Decision::Continue(vec![Edit::SetEntry(("api_version".into(), value))]),
            None => deny(400, "missing-header", &format!("missing {header}")),
        }
    }

    fn on_response(
        _phase: Phase,
        _request: &Request,
        _response: &Response,
        _context: &Context,
    ) -> Decision {
        Decision::Continue(Vec::new())
    }
}

fn deny(status: u16, reason: &str, message: &str) -> Decision {
    Decision::Deny(Denial {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::json!({ "error": message }).to_string().into_bytes(),
        reason: reason.into(),
    })
}

export!(Plugin);
