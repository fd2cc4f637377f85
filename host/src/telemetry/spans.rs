//! The spans of a finished request: a server span for the request and an
//! internal span, its child, for each plugin call.

use std::time::{Instant, SystemTime};

use super::access::AccessRecord;
use super::traces::{FinishedSpan, TraceContext, attribute, int_attribute, span_id};

fn unix_ns(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn path_only(target: &str) -> String {
    let path = target.split('?').next().unwrap_or(target);
    let mut end = path.len().min(1024);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    path[..end].to_string()
}

/// The spans of `record`, in `trace`.
pub fn of(record: &AccessRecord, trace: &TraceContext) -> Vec<FinishedSpan> {
    let start_ns = unix_ns(record.time);
    // Plugin calls are placed by the monotonic clock, from the request's start.
    let at = |instant: Instant| {
        start_ns.saturating_add(
            u64::try_from(instant.saturating_duration_since(record.started).as_nanos())
                .unwrap_or(0),
        )
    };
    let route = record.facts.route.as_deref().unwrap_or("-");
    let mut attributes = vec![
        attribute("http.request.method", record.method.as_str()),
        // The path only: queries may carry credentials, and spans go to
        // another system. At most 1 KiB.
        attribute("url.path", path_only(&record.target)),
        attribute("http.route", route),
        int_attribute("http.response.status_code", i64::from(record.status)),
        attribute(
            "client.address",
            record.client_ip.to_canonical().to_string(),
        ),
        attribute("portcullis.request_id", &*record.request_id),
    ];
    if let Some(reason) = &record.facts.deny_reason {
        attributes.push(attribute("portcullis.deny_reason", reason.as_str()));
    }
    let mut spans = Vec::with_capacity(1 + record.facts.chain.calls.len());
    spans.push(FinishedSpan {
        trace_id: trace.trace_id,
        span_id: trace.span_id,
        parent: trace.parent,
        name: format!("{} {route}", record.method),
        server: true,
        start_ns,
        end_ns: start_ns.saturating_add(u64::try_from(record.duration.as_nanos()).unwrap_or(0)),
        attributes,
        error: record.status >= 500,
    });
    for call in &record.facts.chain.calls {
        let start = at(call.started);
        spans.push(FinishedSpan {
            trace_id: trace.trace_id,
            span_id: span_id(),
            parent: Some(trace.span_id),
            name: format!("plugin {}", call.plugin),
            server: false,
            start_ns: start,
            end_ns: start.saturating_add(u64::try_from(call.duration.as_nanos()).unwrap_or(0)),
            attributes: vec![
                attribute("portcullis.plugin", &*call.plugin),
                attribute("portcullis.phase", call.phase),
                attribute("portcullis.outcome", call.outcome.as_str()),
            ],
            error: matches!(
                call.outcome,
                crate::plugin::chain::Outcome::Error | crate::plugin::chain::Outcome::Timeout
            ),
        });
    }
    spans
}
