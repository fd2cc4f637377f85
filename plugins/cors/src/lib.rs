//! `cors`: cross-origin resource sharing per route. Preflights (`OPTIONS`
//! with `Origin` and `Access-Control-Request-Method`) are answered at the
//! gateway and never reach the upstream; actual responses get the CORS
//! headers for allowed origins, and every response gets `Vary: Origin`,
//! so a cache never serves one origin's answer to another.

pub mod origins;
pub mod policy;

use portcullis_sdk::{
    Context, Decision, Denial, Edit, Phase, Policy, Request, Response, export_policy,
};

use policy::{CorsPolicy, Preflight, VARY};

impl Policy for CorsPolicy {
    const PHASES: &'static [Phase] = &[Phase::RequestHeaders, Phase::ResponseHeaders];

    fn configure(config: &str) -> Result<Self, String> {
        CorsPolicy::from_json(config)
    }

    fn on_request(&self, _phase: Phase, request: &Request, _context: &Context) -> Decision {
        if request.method() != "OPTIONS" {
            return Decision::allow();
        }
        let (Some(origin), Some(method)) = (
            request.header("origin"),
            request.header("access-control-request-method"),
        ) else {
            // A plain OPTIONS request, not a preflight: the upstream's to answer.
            return Decision::allow();
        };
        let requested = request.header("access-control-request-headers");
        match self.preflight(&origin, &method, requested.as_deref()) {
            Preflight::Allowed(headers) => Decision::Deny(Denial {
                status: 204,
                headers,
                body: Vec::new(),
                reason: "cors-preflight".into(),
            }),
            Preflight::Refused(mut headers, reason) => {
                headers.push(("content-type".into(), "application/json".into()));
                Decision::Deny(Denial {
                    status: 403,
                    headers,
                    body: br#"{"error":"cross-origin request not allowed"}"#.to_vec(),
                    reason: reason.into(),
                })
            }
        }
    }

    fn on_response(
        &self,
        _phase: Phase,
        request: &Request,
        _response: &Response,
        _context: &Context,
    ) -> Decision {
        // The route's policy, not the upstream's: its CORS headers go first.
        let mut edits: Vec<Edit> = policy::RESPONSE_HEADERS
            .iter()
            .map(|name| Edit::RemoveHeader((*name).into()))
            .collect();
        edits.push(Edit::AppendHeader(("vary".into(), VARY.into())));
        let origin = request.header("origin");
        edits.extend(
            self.response_headers(origin.as_deref())
                .into_iter()
                .map(Edit::SetHeader),
        );
        Decision::allow_with(edits)
    }
}

export_policy!(CorsPolicy);
