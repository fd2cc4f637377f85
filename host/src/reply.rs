//! A response on its way to the client, with the upstream's fields where
//! they were read, when they pass on unchanged.

use http::{HeaderName, Response};

use crate::body::BoxBody;
use crate::upstream::PassedFields;

/// A response, and the fields of an upstream's head it passes on as they
/// came (see [`PassedFields`]): the gateway's own HTTP/1.1 server writes
/// them from there; anything else that needs every field in the
/// response's map (hyper, a response-phase plugin) merges them first.
pub struct Reply {
    pub response: Response<BoxBody>,
    pub passed: Option<Box<PassedFields>>,
}

impl Reply {
    /// The response with every field in its map.
    pub fn into_response(mut self) -> Response<BoxBody> {
        self.merge_fields();
        self.response
    }

    /// Move the passed fields into the response's map; fields set there
    /// already replace the upstream's of the same name.
    pub fn merge_fields(&mut self) {
        if let Some(passed) = self.passed.take() {
            passed.merge_into(self.response.headers_mut());
        }
    }

    /// The first value of a field as the client would get it: the
    /// gateway's own (which replace the upstream's in `merge_fields`),
    /// else the upstream's passed one.
    pub fn field(&self, name: &HeaderName) -> Option<&[u8]> {
        match self.response.headers().get(name) {
            Some(value) => Some(value.as_bytes()),
            None => self.passed.as_ref()?.first(name.as_str()),
        }
    }

    /// `response`, with `f` applied to its body.
    pub fn map(self, f: impl FnOnce(BoxBody) -> BoxBody) -> Self {
        Self {
            response: self.response.map(f),
            passed: self.passed,
        }
    }
}

impl From<Response<BoxBody>> for Reply {
    fn from(response: Response<BoxBody>) -> Self {
        Self {
            response,
            passed: None,
        }
    }
}
