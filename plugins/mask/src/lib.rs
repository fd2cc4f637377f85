//! `mask`: sensitive data masked in responses before they leave the
//! gateway: card numbers, SSNs, e-mail addresses, phone numbers, IBANs,
//! JWTs and API keys found by pattern ([`detect`]), and JSON fields chosen
//! by path ([`json_path`]), in a configurable [`style`]. gzip, deflate and
//! br bodies are decoded and re-encoded ([`codec`]). The host buffers the
//! body up to the plugin's `body_budget`; past it, `over_budget` decides
//! between refusing the response (502) and passing it unmasked.

pub mod codec;
pub mod detect;
pub mod json_path;
pub mod masker;
pub mod stream;
pub mod style;

use portcullis_sdk::{Context, Decision, Edit, Phase, Policy, Request, Response, export_policy};

use codec::{CodecError, Coding};
use masker::{Format, MaskError, Masker};

impl Policy for Masker {
    const PHASES: &'static [Phase] = &[Phase::ResponseBody];

    fn configure(config: &str) -> Result<Self, String> {
        Masker::from_json(config)
    }

    fn on_response(
        &self,
        _phase: Phase,
        _request: &Request,
        response: &Response,
        _context: &Context,
    ) -> Decision {
        let format = Format::of(response.header("content-type").as_deref());
        if format == Format::Other {
            return Decision::allow();
        }
        let Some(body) = response.body() else {
            return Decision::allow();
        };
        let coding = match Coding::from_header(response.header("content-encoding").as_deref()) {
            Ok(coding) => coding,
            Err(e) => return refuse(MaskError::Codec(e)),
        };
        match self.mask(format, coding, &body.bytes()) {
            Ok(None) => Decision::allow(),
            Ok(Some(masked)) => Decision::allow_with(vec![
                Edit::ReplaceBody(masked),
                // The validators describe the upstream's bytes, not these.
                Edit::RemoveHeader("etag".into()),
                Edit::RemoveHeader("content-md5".into()),
            ]),
            Err(e) => refuse(e),
        }
    }
}

/// A body that cannot be inspected is not sent: 502.
fn refuse(error: MaskError) -> Decision {
    let reason = match error {
        MaskError::Codec(CodecError::Unsupported(_)) => "mask-unsupported-encoding",
        MaskError::Codec(CodecError::TooLarge) => "mask-decoded-too-large",
        MaskError::Codec(CodecError::Corrupt) => "mask-corrupt-encoding",
        MaskError::UnparsableJson => "mask-unparsable-json",
    };
    Decision::deny_json(502, reason, "bad gateway")
}

export_policy!(Masker);
