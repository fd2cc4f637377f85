//! `portcullis keys ...`: the admin API's command-line client. The token
//! comes from `PORTCULLIS_ADMIN_TOKEN`, never from the command line, where
//! other users of the machine could read it.

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The environment variable holding the admin token.
pub const TOKEN_VARIABLE: &str = "PORTCULLIS_ADMIN_TOKEN";

/// Call `method path` on the admin API at `base` with an optional JSON
/// body; the JSON answer of a 2xx, else an error with the API's message.
pub async fn call(
    base: &str,
    method: http::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let token = std::env::var(TOKEN_VARIABLE)
        .with_context(|| format!("set {TOKEN_VARIABLE} to the admin token"))?;
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let mut request = http::Request::builder()
        .method(method)
        .uri(&url)
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    let payload = match body {
        Some(body) => {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    let request = request
        .body(Full::new(payload))
        .with_context(|| format!("invalid admin URL {url:?}"))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response = client
        .request(request)
        .await
        .with_context(|| format!("cannot reach the admin API at {base}"))?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .context("reading the admin API's answer")?
        .to_bytes();
    let answer: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("the admin API answered {status} with no JSON"))?;
    if !status.is_success() {
        let message = answer["error"].as_str().unwrap_or("no message");
        bail!("the admin API answered {status}: {message}");
    }
    Ok(answer)
}
