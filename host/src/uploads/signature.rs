//! The signed-upload URL format. A signer appends
//! `pc-expires=<unix seconds>&pc-max-bytes=<n>[&pc-content-type=<type>]`
//! and then `&pc-signature=<hex HMAC-SHA256>` to the path's query; the
//! MAC covers a version tag, the method, the host, the path and everything
//! in the query before the signature, so any change to them breaks it.

use ring::hmac;

/// The query parameter that carries the signature; always last.
pub const SIGNATURE_PARAM: &str = "pc-signature";
const EXPIRES_PARAM: &str = "pc-expires";
const MAX_BYTES_PARAM: &str = "pc-max-bytes";
const CONTENT_TYPE_PARAM: &str = "pc-content-type";
const VERSION: &str = "PORTCULLIS-UPLOAD-1";

/// A key that signs and verifies upload URLs.
pub struct UploadKey(hmac::Key);

impl std::fmt::Debug for UploadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UploadKey(..)")
    }
}

/// What a valid signed URL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The largest body, in bytes.
    pub max_bytes: u64,
    /// The Content-Type the upload must have, if the URL names one.
    pub content_type: Option<String>,
    /// The query without the `pc-*` parameters, for the upstream.
    pub upstream_query: Option<String>,
}

/// Why a URL was refused. Logged; the client only learns it was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No signature in the URL.
    #[error("no signature")]
    Missing,
    /// The signature or a signed parameter is not in the expected form.
    #[error("malformed signed URL")]
    Malformed,
    /// The signature does not match: tampered, another path or method, or
    /// another key.
    #[error("signature mismatch")]
    BadSignature,
    /// Past its expiry.
    #[error("expired")]
    Expired,
}

/// Whether `query` carries a signature at all.
pub fn looks_signed(query: Option<&str>) -> bool {
    query.is_some_and(|q| q.contains("pc-signature="))
}

impl UploadKey {
    /// A key from its secret bytes.
    pub fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// The query (without `?`) that signs `method` on `authority` and
    /// `path` until `expires`
    /// for bodies up to `max_bytes`.
    pub fn sign(
        &self,
        method: &str,
        authority: &str,
        path: &str,
        expires: u64,
        max_bytes: u64,
        content_type: Option<&str>,
    ) -> String {
        let mut query = format!("{EXPIRES_PARAM}={expires}&{MAX_BYTES_PARAM}={max_bytes}");
        if let Some(content_type) = content_type {
            query.push_str(&format!(
                "&{CONTENT_TYPE_PARAM}={}",
                crate::percent::encode(content_type)
            ));
        }
        let tag = hmac::sign(
            &self.0,
            canonical(method, authority, path, &query).as_bytes(),
        );
        format!("{query}&{SIGNATURE_PARAM}={}", hex::encode(tag.as_ref()))
    }

    /// Check a request's method, host, path and query at `now` (Unix
    /// seconds).
    pub fn verify(
        &self,
        method: &str,
        authority: &str,
        path: &str,
        query: Option<&str>,
        now: u64,
    ) -> Result<Grant, Refusal> {
        let query = query.ok_or(Refusal::Missing)?;
        let (signed, signature) = query
            .rsplit_once(&format!("&{SIGNATURE_PARAM}="))
            .ok_or(Refusal::Missing)?;
        let mut tag = [0u8; 32];
        hex::decode_to_slice(signature, &mut tag).map_err(|_| Refusal::Malformed)?;
        // Constant-time comparison inside ring.
        hmac::verify(
            &self.0,
            canonical(method, authority, path, signed).as_bytes(),
            &tag,
        )
        .map_err(|_| Refusal::BadSignature)?;

        let (mut expires, mut max_bytes, mut content_type) = (None, None, None);
        let mut rest = Vec::new();
        for pair in signed.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                EXPIRES_PARAM => &mut expires,
                MAX_BYTES_PARAM => &mut max_bytes,
                CONTENT_TYPE_PARAM => &mut content_type,
                // No other pc-* parameter is defined: refuse rather than guess.
                other if other.starts_with("pc-") => return Err(Refusal::Malformed),
                _ => {
                    rest.push(pair);
                    continue;
                }
            };
            if slot.replace(value).is_some() {
                return Err(Refusal::Malformed);
            }
        }
        let expires: u64 = expires
            .and_then(|v| v.parse().ok())
            .ok_or(Refusal::Malformed)?;
        let max_bytes: u64 = max_bytes
            .and_then(|v| v.parse().ok())
            .ok_or(Refusal::Malformed)?;
        if now > expires {
            return Err(Refusal::Expired);
        }
        Ok(Grant {
            max_bytes,
            content_type: content_type.map(crate::percent::decode),
            upstream_query: (!rest.is_empty()).then(|| rest.join("&")),
        })
    }
}

fn canonical(method: &str, authority: &str, path: &str, signed_query: &str) -> String {
    // The host is lower-cased: it is case-insensitive on the wire.
    format!(
        "{VERSION}\n{method}\n{}\n{path}\n{signed_query}",
        authority.to_ascii_lowercase()
    )
}

/// Percent-encode everything but unreserved characters (RFC 3986).
#[cfg(test)]
mod tests {
    use super::{Grant, Refusal, UploadKey};

    const NOW: u64 = 1_800_000_000;

    fn key() -> UploadKey {
        UploadKey::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn a_signed_url_verifies_for_its_method_and_path_until_it_expires() {
        let query = key().sign(
            "PUT",
            "h",
            "/uploads/a.bin",
            NOW + 60,
            1000,
            Some("video/mp4"),
        );
        let grant = key().verify("PUT", "h", "/uploads/a.bin", Some(&query), NOW);
        assert_eq!(
            grant,
            Ok(Grant {
                max_bytes: 1000,
                content_type: Some("video/mp4".into()),
                upstream_query: None
            })
        );
        assert_eq!(
            key().verify("PUT", "h", "/uploads/a.bin", Some(&query), NOW + 61),
            Err(Refusal::Expired)
        );
        assert_eq!(
            key().verify("PUT", "h", "/uploads/b.bin", Some(&query), NOW),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            key().verify("POST", "h", "/uploads/a.bin", Some(&query), NOW),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            key().verify("PUT", "other.example", "/uploads/a.bin", Some(&query), NOW),
            Err(Refusal::BadSignature)
        );
        let other = UploadKey::new(b"another key another key another!");
        assert_eq!(
            other.verify("PUT", "h", "/uploads/a.bin", Some(&query), NOW),
            Err(Refusal::BadSignature)
        );
    }

    #[test]
    fn tampering_with_any_part_of_the_query_breaks_the_signature() {
        let query = key().sign("PUT", "h", "/u/a", NOW + 60, 1000, None);
        let bigger = query.replace("pc-max-bytes=1000", "pc-max-bytes=9999");
        assert_eq!(
            key().verify("PUT", "h", "/u/a", Some(&bigger), NOW),
            Err(Refusal::BadSignature)
        );
        let later = query.replace(
            &format!("pc-expires={}", NOW + 60),
            &format!("pc-expires={}", NOW + 6000),
        );
        assert_eq!(
            key().verify("PUT", "h", "/u/a", Some(&later), NOW),
            Err(Refusal::BadSignature)
        );
        let extra = format!("x=1&{query}");
        assert_eq!(
            key().verify("PUT", "h", "/u/a", Some(&extra), NOW),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            key().verify("PUT", "h", "/u/a", Some("pc-expires=1"), NOW),
            Err(Refusal::Missing)
        );
        assert_eq!(
            key().verify(
                "PUT",
                "h",
                "/u/a",
                Some(&format!("{}zz", &query[..query.len() - 2])),
                NOW
            ),
            Err(Refusal::Malformed)
        );
    }
}
