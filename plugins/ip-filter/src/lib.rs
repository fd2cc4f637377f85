//! `ip-filter`: allow or deny requests by client CIDR lists and by
//! method/path rules. The decision logic lives in [`filter`]; this file is
//! the glue to the gateway.

mod filter;
mod settings;

use portcullis_sdk::{Context, Decision, Phase, Policy, Request, export_policy};

use std::cell::OnceCell;

use filter::{Filter, RequestLine, Verdict};

impl Policy for Filter {
    const PHASES: &'static [Phase] = &[Phase::RequestHeaders];

    fn configure(config: &str) -> Result<Self, String> {
        Filter::from_json(config)
    }

    fn on_request(&self, _phase: Phase, request: &Request, _context: &Context) -> Decision {
        let verdict = match request.client_ip().parse() {
            Ok(ip) => self.check(ip, &Asked::new(request)),
            // The host always passes a valid address; refuse rather than guess.
            Err(_) => Verdict::Deny("unparsable-client-ip"),
        };
        // The verdict follows from the lists and rules and what was read
        // above alone: the gateway may give it again for as long as it
        // keeps decisions, for requests from the same address (with the
        // same method and path, if a rule read them).
        portcullis_sdk::host::reusable_for(std::time::Duration::MAX);
        match verdict {
            Verdict::Allow => Decision::allow(),
            Verdict::Deny(reason) => self.denial(reason),
        }
    }
}

/// The method and path, each asked of the gateway at most once and only
/// if a rule reads it.
struct Asked<'a> {
    request: &'a Request,
    method: OnceCell<String>,
    path: OnceCell<String>,
}

impl<'a> Asked<'a> {
    fn new(request: &'a Request) -> Self {
        Self {
            request,
            method: OnceCell::new(),
            path: OnceCell::new(),
        }
    }
}

impl RequestLine for Asked<'_> {
    fn method(&self) -> &str {
        self.method.get_or_init(|| self.request.method())
    }
    fn path(&self) -> &str {
        self.path.get_or_init(|| self.request.path())
    }
}

export_policy!(Filter);
