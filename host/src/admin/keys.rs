//! `/keys`: issue (`POST`, the key is in the answer and nowhere else), list
//! (`GET`, ids and owners only) and revoke (`DELETE /keys/{id}`).

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde::Deserialize;
use serde_json::json;

use super::server::{Admin, error, json};
use crate::apikeys::{KeyRecord, KeyStore, StoreError};

/// Longest consumer name.
const MAX_CONSUMER_BYTES: usize = 256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    consumer: String,
    plan: Option<String>,
}

/// Route a `/keys` call; `id` is what follows `/keys/`.
pub async fn handle(
    admin: &Admin,
    method: &Method,
    id: &str,
    body: &Bytes,
) -> Response<Full<Bytes>> {
    let Some(store) = admin.keys.clone() else {
        return error(
            StatusCode::NOT_FOUND,
            "API keys are not configured ([api_keys])",
        );
    };
    match (method, id) {
        (&Method::GET, "") => list(store).await,
        (&Method::POST, "") => create(admin, store, body).await,
        (&Method::DELETE, id) if !id.is_empty() && !id.contains('/') => revoke(store, id).await,
        (_, "") => error(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST"),
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "use DELETE /keys/{id}"),
    }
}

async fn list(store: Arc<KeyStore>) -> Response<Full<Bytes>> {
    match blocking(move || store.list()).await {
        Ok(records) => {
            let keys: Vec<_> = records.iter().map(describe).collect();
            json(StatusCode::OK, &json!({ "keys": keys }))
        }
        Err(e) => failed(&e),
    }
}

async fn create(admin: &Admin, store: Arc<KeyStore>, body: &Bytes) -> Response<Full<Bytes>> {
    let request: NewKey = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid body: {e}")),
    };
    if request.consumer.is_empty() || request.consumer.len() > MAX_CONSUMER_BYTES {
        return error(StatusCode::BAD_REQUEST, "consumer: 1 to 256 bytes");
    }
    if let Some(plan) = &request.plan
        && !admin.plans().contains(plan)
    {
        return error(StatusCode::BAD_REQUEST, &format!("no usage plan {plan:?}"));
    }
    let consumer = request.consumer.clone();
    let plan = request.plan.clone();
    match blocking(move || store.create(&consumer, plan.as_deref())).await {
        Ok((key, record)) => {
            tracing::info!(key_id = %record.id, consumer = %record.consumer, "API key issued");
            let mut answer = describe(&record);
            answer["key"] = json!(key);
            json(StatusCode::CREATED, &answer)
        }
        Err(e) => failed(&e),
    }
}

async fn revoke(store: Arc<KeyStore>, id: &str) -> Response<Full<Bytes>> {
    let owned = id.to_string();
    match blocking(move || store.revoke(&owned)).await {
        Ok(record) => {
            tracing::info!(key_id = %record.id, consumer = %record.consumer, "API key revoked");
            json(StatusCode::OK, &describe(&record))
        }
        Err(StoreError::NotFound(_)) => error(StatusCode::NOT_FOUND, "no such key"),
        Err(e) => failed(&e),
    }
}

/// A record as the admin API shows it: no hash.
fn describe(record: &KeyRecord) -> serde_json::Value {
    json!({
        "id": record.id,
        "consumer": record.consumer,
        "plan": record.plan,
        "created": record.created,
        "revoked": record.revoked,
    })
}

fn failed(e: &StoreError) -> Response<Full<Bytes>> {
    tracing::error!("admin API: {e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "key store error")
}

/// Run a store operation (disk I/O, fsync) off the async workers.
async fn blocking<T: Send + 'static>(
    operation: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(operation)
        .await
        .unwrap_or_else(|e| Err(StoreError::Database(format!("store task: {e}"))))
}
