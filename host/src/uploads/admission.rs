//! A route's acceptance of signed uploads: a request with a valid signed
//! URL gets the signed size as its body limit, and its body streams to the
//! upstream without being buffered.

use http::HeaderMap;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};

use super::signature::{Refusal, UploadKey, looks_signed};
use crate::error::GatewayError;

/// What a route does with signed upload URLs.
#[derive(Debug)]
pub struct SignedUploads {
    key: UploadKey,
    /// Whether requests without a signed URL are refused.
    required: bool,
}

/// An admitted upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// The body limit for this request.
    pub max_bytes: u64,
    /// The query to forward, without the `pc-*` parameters.
    pub upstream_query: Option<String>,
}

impl SignedUploads {
    /// Accept URLs signed with `key`; `required` refuses unsigned requests.
    pub fn new(key: UploadKey, required: bool) -> Self {
        Self { key, required }
    }

    /// Admit a request: `Ok(None)` for an unsigned request the route lets
    /// through under its normal limits.
    pub fn admit(
        &self,
        method: &str,
        authority: &str,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        now: u64,
    ) -> Result<Option<Admitted>, GatewayError> {
        if !looks_signed(query) {
            return if self.required {
                Err(refused(Refusal::Missing))
            } else {
                Ok(None)
            };
        }
        let grant = self
            .key
            .verify(method, authority, path, query, now)
            .map_err(refused)?;
        if let Some(expected) = &grant.content_type {
            // One Content-Type, the signed one: with two, the upstream
            // could act on the other.
            let mut sent = headers.get_all(CONTENT_TYPE).iter();
            let (first, second) = (sent.next(), sent.next());
            let sent = first
                .and_then(|v| v.to_str().ok())
                .filter(|_| second.is_none())
                .unwrap_or("");
            if !sent.eq_ignore_ascii_case(expected) {
                tracing::info!(
                    reason = "content type differs from the signed one",
                    "signed upload refused"
                );
                return Err(GatewayError::UploadRefused);
            }
        }
        // The size is checked before a byte is read; streaming bodies of
        // unknown length would have to be counted to the end first.
        let declared: u64 = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or(GatewayError::LengthRequired)?;
        if declared > grant.max_bytes {
            return Err(GatewayError::PayloadTooLarge);
        }
        Ok(Some(Admitted {
            max_bytes: grant.max_bytes,
            upstream_query: grant.upstream_query,
        }))
    }
}

fn refused(reason: Refusal) -> GatewayError {
    tracing::info!(%reason, "signed upload refused");
    GatewayError::UploadRefused
}
