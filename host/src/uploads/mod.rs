//! Signed URLs for large uploads, verified natively. A route with an
//! `upload_signer` (upstream `builtin = "upload-signer"`) issues URLs to
//! authenticated callers; a route with `signed_uploads` accepts a request
//! that carries a valid one and streams its body to the upstream past the
//! route's body limit, up to the size the URL was signed for.
//!
//! The signature ([`signature`]) is HMAC-SHA256 over the method, the path
//! and the query up to the signature, so nothing in the URL can change
//! without breaking it; [`admission`] turns a request into a body limit or
//! a refusal, and [`signer`] answers the issuing endpoint.

pub mod admission;
pub mod signature;
pub mod signer;

pub use admission::SignedUploads;
pub use signature::UploadKey;
pub use signer::UploadSigner;

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
