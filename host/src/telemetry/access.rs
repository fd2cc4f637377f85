//! The access log line: one JSON object per request, written when the last
//! byte of the response has gone (or the client went away), so it carries
//! the bytes sent and the whole duration. It never holds a header value:
//! no `Authorization`, cookie or API key can reach it, and query values
//! whose names are sensitive are replaced by `REDACTED`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::json_line::JsonLine;
use crate::plugin::chain::ChainRun;

/// What one request did, gathered along the pipeline.
#[derive(Default)]
pub struct AccessFacts {
    /// The route it matched.
    pub route: Option<Arc<str>>,
    /// That route's metric handles.
    pub route_metrics: Option<Arc<super::metrics::RouteMetrics>>,
    /// The authenticated principal.
    pub principal: Option<String>,
    /// The client's country, if a plugin established it.
    pub country: Option<String>,
    /// The plugin chain's run: each call's name, phase, outcome, duration.
    pub chain: ChainRun,
    /// The client address as resolved (trusted proxies), once known.
    pub client_ip: Option<IpAddr>,
    /// The account the request named, for threat detection (not logged).
    pub account: Option<String>,
    /// Its place in a trace, when traces are exported.
    pub trace: Option<super::traces::TraceContext>,
    /// Time from sending upstream to the response head.
    pub upstream: Option<Duration>,
    /// Why the gateway or a plugin answered instead of the upstream.
    pub deny_reason: Option<String>,
}

/// The fixed parts of a request's line.
pub struct AccessRecord {
    /// When the request head arrived.
    pub time: SystemTime,
    /// The same, on the monotonic clock (plugin calls are placed by it).
    pub started: std::time::Instant,
    /// Its id.
    pub request_id: Arc<str>,
    /// The resolved client address.
    pub client_ip: IpAddr,
    /// Method.
    pub method: http::Method,
    /// Path, and the query with sensitive values redacted.
    pub target: String,
    /// Response status.
    pub status: u16,
    /// Request body bytes received.
    pub bytes_in: u64,
    /// Response body bytes sent.
    pub bytes_out: u64,
    /// Head to last byte.
    pub duration: Duration,
    /// The rest.
    pub facts: AccessFacts,
}

impl AccessRecord {
    /// The JSON line, as bytes, without its newline.
    pub fn line(&self) -> Vec<u8> {
        // A line with three plugin calls is about 500 bytes: room for it
        // and more, so it is not copied as it grows.
        let mut out = JsonLine::with_capacity(1024);
        out.raw("{\"log\":\"access\",\"time\":\"");
        out.time(self.time);
        out.raw("\",\"request_id\":");
        out.string(&self.request_id);
        out.raw(",\"client_ip\":\"");
        out.ip(self.client_ip);
        out.raw("\",\"method\":");
        out.string(self.method.as_str());
        out.raw(",\"path\":");
        out.string(&self.target);
        out.raw(",\"route\":");
        out.opt(self.facts.route.as_deref());
        out.raw(",\"status\":");
        out.number(u64::from(self.status));
        out.raw(",\"bytes_in\":");
        out.number(self.bytes_in);
        out.raw(",\"bytes_out\":");
        out.number(self.bytes_out);
        out.raw(",\"duration_us\":");
        out.micros(self.duration);
        out.raw(",\"upstream_us\":");
        match self.facts.upstream {
            Some(upstream) => out.micros(upstream),
            None => out.raw("null"),
        }
        out.raw(",\"principal\":");
        out.opt(self.facts.principal.as_deref());
        out.raw(",\"country\":");
        out.opt(self.facts.country.as_deref());
        out.raw(",\"deny_reason\":");
        out.opt(self.facts.deny_reason.as_deref());
        out.raw(",\"plugins\":[");
        for (i, call) in self.facts.chain.calls.iter().enumerate() {
            if i > 0 {
                out.raw(",");
            }
            out.raw("{\"name\":");
            out.string(&call.plugin);
            // Phase and outcome names are fixed identifiers: no escaping.
            out.raw(",\"phase\":\"");
            out.raw(call.phase);
            out.raw("\",\"outcome\":\"");
            out.raw(call.outcome.as_str());
            out.raw("\",\"us\":");
            out.micros(call.duration);
            out.raw("}");
        }
        out.raw("]}");
        out.into_bytes()
    }
}

/// `path?query` with the values of sensitive query parameters replaced.
pub fn redacted_target(path: &str, query: Option<&str>, sensitive: &[String]) -> String {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return path.to_string();
    };
    let mut out = String::with_capacity(path.len() + query.len() + 1);
    out.push_str(path);
    out.push('?');
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        // As the application reads the name: `api%2Dkey` is `api-key`.
        let decoded = crate::percent::decode_query(name);
        if sensitive.iter().any(|s| s.eq_ignore_ascii_case(&decoded)) && !value.is_empty() {
            out.push_str(name);
            out.push_str("=REDACTED");
        } else {
            out.push_str(pair);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_query_values_are_redacted() {
        let sensitive = vec!["access_token".to_string(), "api_key".to_string()];
        assert_eq!(
            redacted_target(
                "/a",
                Some("x=1&access_token=abc&API_KEY=k&empty="),
                &sensitive
            ),
            "/a?x=1&access_token=REDACTED&API_KEY=REDACTED&empty="
        );
        assert_eq!(redacted_target("/a", None, &sensitive), "/a");
    }

    #[test]
    fn lines_are_json_that_cannot_be_forged() {
        let record = AccessRecord {
            time: SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_337_000_123),
            started: std::time::Instant::now(),
            request_id: "r\n\"1".into(),
            client_ip: "::ffff:10.0.0.1".parse().expect("ip"),
            method: http::Method::GET,
            target: "/x".into(),
            status: 200,
            bytes_in: 0,
            bytes_out: 12,
            duration: Duration::from_micros(345),
            facts: AccessFacts::default(),
        };
        let line = record.line();
        assert!(!line.contains(&b'\n'));
        let parsed: serde_json::Value = serde_json::from_slice(&line).expect("json");
        assert_eq!(parsed["request_id"], "r\n\"1");
        assert_eq!(parsed["client_ip"], "10.0.0.1");
        assert_eq!(parsed["time"], "2025-11-28T13:36:40.123Z");
        assert_eq!(parsed["upstream_us"], serde_json::Value::Null);
        assert_eq!(parsed["duration_us"], 345);
        assert_eq!(parsed["bytes_out"], 12);
    }
}
