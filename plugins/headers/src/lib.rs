//! `headers`: add, set and remove request headers before the upstream and
//! response headers before the client, e.g. security headers. The edit
//! lists are built once at configure time in [`rules`].

mod rules;

use portcullis_sdk::{Context, Decision, Phase, Policy, Request, Response, export_policy};

use rules::HeaderRules;

impl Policy for HeaderRules {
    const PHASES: &'static [Phase] = &[Phase::RequestHeaders, Phase::ResponseHeaders];

    fn configure(config: &str) -> Result<Self, String> {
        HeaderRules::from_json(config)
    }

    fn on_request(&self, _phase: Phase, _request: &Request, _context: &Context) -> Decision {
        // The same edits for every request: the gateway may apply them
        // without a call for as long as it keeps decisions.
        portcullis_sdk::host::reusable_for(std::time::Duration::MAX);
        Decision::allow_with(self.request_edits())
    }

    fn on_response(
        &self,
        _phase: Phase,
        _request: &Request,
        _response: &Response,
        _context: &Context,
    ) -> Decision {
        // Nor do the response edits depend on the response.
        portcullis_sdk::host::reusable_for(std::time::Duration::MAX);
        Decision::allow_with(self.response_edits())
    }
}

export_policy!(HeaderRules);
