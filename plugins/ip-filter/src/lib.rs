//! `ip-filter`: allow or deny requests by client CIDR lists and by
//! method/path rules. The decision logic lives in [`filter`]; this file is
//! the glue to the gateway.

mod filter;
mod settings;

use portcullis_sdk::{Context, Decision, Phase, Policy, Request, export_policy};

use filter::{Filter, Verdict};

impl Policy for Filter {
    const PHASES: &'static [Phase] = &[Phase::RequestHeaders];

    fn configure(config: &str) -> Result<Self, String> {
        Filter::from_json(config)
    }

    fn on_request(&self, _phase: Phase, request: &Request, _context: &Context) -> Decision {
        let verdict = match request.client_ip().parse() {
            Ok(ip) => self.check(ip, &request.method(), &request.path()),
            // The host always passes a valid address; refuse rather than guess.
            Err(_) => Verdict::Deny("unparsable-client-ip"),
        };
        match verdict {
            Verdict::Allow => Decision::allow(),
            Verdict::Deny(reason) => self.denial(reason),
        }
    }
}

export_policy!(Filter);
