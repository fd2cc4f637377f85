//! Request body processors: each turns a body into the variables rules read.

pub mod json;
pub mod multipart;
pub mod urlencoded;
pub mod xml;

use crate::rule::BodyProcessor;

/// The processor a Content-Type calls for, as ModSecurity's recommended
/// configuration chooses it.
pub fn processor_for(content_type: &[u8]) -> Option<BodyProcessor> {
    let essence = content_type
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii()
        .to_ascii_lowercase();
    match essence.as_slice() {
        b"application/x-www-form-urlencoded" => Some(BodyProcessor::UrlEncoded),
        b"multipart/form-data" => Some(BodyProcessor::Multipart),
        b"application/json" => Some(BodyProcessor::Json),
        b"text/xml" | b"application/xml" => Some(BodyProcessor::Xml),
        other if other.ends_with(b"+json") => Some(BodyProcessor::Json),
        other if other.ends_with(b"+xml") => Some(BodyProcessor::Xml),
        _ => None,
    }
}
