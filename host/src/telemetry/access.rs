//! The access log line: one JSON object per request, written when the last
//! byte of the response has gone (or the client went away), so it carries
//! the bytes sent and the whole duration. It never holds a header value:
//! no `Authorization`, cookie or API key can reach it, and query values
//! whose names are sensitive are replaced by `REDACTED`.

use std::fmt::Write;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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
    pub request_id: String,
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
    /// The JSON line.
    pub fn line(&self) -> String {
        let mut out = String::with_capacity(384);
        out.push_str("{\"log\":\"access\",\"time\":\"");
        push_time(&mut out, self.time);
        out.push_str("\",\"request_id\":");
        push_str(&mut out, &self.request_id);
        let _ = write!(
            out,
            ",\"client_ip\":\"{}\",\"method\":",
            self.client_ip.to_canonical()
        );
        push_str(&mut out, self.method.as_str());
        out.push_str(",\"path\":");
        push_str(&mut out, &self.target);
        out.push_str(",\"route\":");
        push_opt(&mut out, self.facts.route.as_deref());
        let _ = write!(
            out,
            ",\"status\":{},\"bytes_in\":{},\"bytes_out\":{},\"duration_us\":{},\"upstream_us\":",
            self.status,
            self.bytes_in,
            self.bytes_out,
            self.duration.as_micros()
        );
        match self.facts.upstream {
            Some(upstream) => {
                let _ = write!(out, "{}", upstream.as_micros());
            }
            None => out.push_str("null"),
        }
        out.push_str(",\"principal\":");
        push_opt(&mut out, self.facts.principal.as_deref());
        out.push_str(",\"country\":");
        push_opt(&mut out, self.facts.country.as_deref());
        out.push_str(",\"deny_reason\":");
        push_opt(&mut out, self.facts.deny_reason.as_deref());
        out.push_str(",\"plugins\":[");
        for (i, call) in self.facts.chain.calls.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"name\":");
            push_str(&mut out, &call.plugin);
            let _ = write!(
                out,
                ",\"phase\":\"{}\",\"outcome\":\"{}\",\"us\":{}}}",
                call.phase,
                call.outcome.as_str(),
                call.duration.as_micros()
            );
        }
        out.push_str("]}");
        out
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

pub(crate) fn push_opt(out: &mut String, value: Option<&str>) {
    match value {
        Some(value) => push_str(out, value),
        None => out.push_str("null"),
    }
}

/// A JSON string, escaped; control characters as `\u00XX`, so a client
/// cannot forge lines.
pub(crate) fn push_str(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// RFC 3339, UTC, milliseconds.
pub(crate) fn push_time(out: &mut String, time: SystemTime) {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = crate::calendar::civil_from_days(i64::try_from(days).unwrap_or(0));
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    );
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
        assert!(!line.contains('\n'));
        let parsed: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(parsed["request_id"], "r\n\"1");
        assert_eq!(parsed["client_ip"], "10.0.0.1");
        assert_eq!(parsed["time"], "2025-11-28T13:36:40.123Z");
        assert_eq!(parsed["upstream_us"], serde_json::Value::Null);
    }
}
