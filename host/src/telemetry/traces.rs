//! OpenTelemetry traces, exported over OTLP/HTTP as protobuf (the OTLP
//! message types of `opentelemetry-proto`) to `[traces] endpoint`.
//!
//! Each request is a server span; each plugin call a child span of it.
//! A W3C `traceparent` from the client continues its trace (and its
//! sampling decision); otherwise a trace starts here, sampled at
//! `[traces] sample`. The upstream gets a `traceparent` naming the
//! request's span as parent. Finished spans wait in a bounded buffer that
//! an exporter task sends every `export_every_ms`; when the collector is
//! slow or away, spans past `max_queued` are dropped, never the request.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use prost::Message;

/// A request's place in a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace.
    pub trace_id: [u8; 16],
    /// This request's span.
    pub span_id: [u8; 8],
    /// The client's span, when it sent a `traceparent`.
    pub parent: Option<[u8; 8]>,
    /// Whether spans are recorded (and the flag passed on).
    pub sampled: bool,
}

thread_local! {
    static RANDOM: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    u64::from_le_bytes(bytes) | 1
}

/// A fast random number (splitmix64): ids need to be unique, not secret.
fn random() -> u64 {
    RANDOM.with(|state| {
        let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// A non-zero span id.
pub fn span_id() -> [u8; 8] {
    loop {
        let id = random();
        if id != 0 {
            return id.to_be_bytes();
        }
    }
}

impl TraceContext {
    /// The context of a request: its `traceparent` continued, or a new
    /// trace sampled with probability `sample`.
    pub fn start(traceparent: Option<&http::HeaderValue>, sample: f64) -> Self {
        if let Some((trace_id, parent, sampled)) = traceparent.and_then(parse_traceparent) {
            return Self {
                trace_id,
                span_id: span_id(),
                parent: Some(parent),
                sampled,
            };
        }
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&random().to_be_bytes());
        trace_id[8..].copy_from_slice(&span_id());
        let sampled = sample >= 1.0 || (random() >> 11) as f64 / (1u64 << 53) as f64 <= sample;
        Self {
            trace_id,
            span_id: span_id(),
            parent: None,
            sampled,
        }
    }

    /// The `traceparent` the upstream gets: this request's span as parent.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{}",
            hex::encode(self.trace_id),
            hex::encode(self.span_id),
            if self.sampled { "01" } else { "00" }
        )
    }
}

/// `00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero (W3C Trace Context).
fn parse_traceparent(value: &http::HeaderValue) -> Option<([u8; 16], [u8; 8], bool)> {
    let text = value.to_str().ok()?;
    let mut parts = text.trim().split('-');
    let version = parts.next()?;
    let (trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?);
    if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
        return None;
    }
    let lower = |s: &str| !s.bytes().any(|b| b.is_ascii_uppercase());
    if !(lower(trace) && lower(parent) && lower(flags)) {
        return None;
    }
    let mut trace_id = [0u8; 16];
    let mut parent_id = [0u8; 8];
    let mut flag = [0u8; 1];
    hex::decode_to_slice(trace, &mut trace_id).ok()?;
    hex::decode_to_slice(parent, &mut parent_id).ok()?;
    hex::decode_to_slice(flags, &mut flag).ok()?;
    if trace_id == [0; 16] || parent_id == [0; 8] {
        return None;
    }
    Some((trace_id, parent_id, flag[0] & 1 == 1))
}

/// A string attribute.
pub fn attribute(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
    }
}

/// An integer attribute.
pub fn int_attribute(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
    }
}

/// A finished span, ready to export.
pub struct FinishedSpan {
    /// Its context's trace.
    pub trace_id: [u8; 16],
    /// Its id.
    pub span_id: [u8; 8],
    /// Its parent, if any.
    pub parent: Option<[u8; 8]>,
    /// Its name.
    pub name: String,
    /// Server (a request) or internal (a plugin call).
    pub server: bool,
    /// Start and end, nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// End.
    pub end_ns: u64,
    /// Attributes.
    pub attributes: Vec<KeyValue>,
    /// Whether it failed.
    pub error: bool,
}

impl FinishedSpan {
    fn into_proto(self) -> Span {
        Span {
            trace_id: self.trace_id.to_vec(),
            span_id: self.span_id.to_vec(),
            parent_span_id: self.parent.map(|p| p.to_vec()).unwrap_or_default(),
            name: self.name,
            kind: if self.server {
                span::SpanKind::Server as i32
            } else {
                span::SpanKind::Internal as i32
            },
            start_time_unix_nano: self.start_ns,
            end_time_unix_nano: self.end_ns,
            attributes: self.attributes,
            status: Some(Status {
                message: String::new(),
                code: if self.error {
                    status::StatusCode::Error as i32
                } else {
                    status::StatusCode::Unset as i32
                },
            }),
            ..Span::default()
        }
    }
}

/// Spans waiting for the exporter.
pub struct Exporter {
    spans: Mutex<Vec<Span>>,
    max_queued: usize,
    /// Spans dropped because the buffer was full.
    pub dropped: AtomicU64,
    /// Spans sent and accepted.
    pub exported: AtomicU64,
    /// The sampling probability of new traces.
    pub sample: f64,
}

impl Exporter {
    /// An exporter buffering at most `max_queued` spans.
    pub fn new(max_queued: usize, sample: f64) -> Self {
        Self {
            spans: Mutex::new(Vec::new()),
            max_queued,
            dropped: AtomicU64::new(0),
            exported: AtomicU64::new(0),
            sample,
        }
    }

    /// Queue finished spans.
    pub fn record(&self, spans: impl IntoIterator<Item = FinishedSpan>) {
        let Ok(mut queue) = self.spans.lock() else {
            return;
        };
        for span in spans {
            if queue.len() >= self.max_queued {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            queue.push(span.into_proto());
        }
    }

    /// Send what is queued to `endpoint` every `every`, forever.
    pub async fn run(&self, endpoint: http::Uri, every: Duration, service_name: String) {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let resource = Resource {
            attributes: vec![
                attribute("service.name", service_name),
                attribute("service.version", env!("CARGO_PKG_VERSION")),
            ],
            ..Resource::default()
        };
        loop {
            tokio::time::sleep(every).await;
            let spans = match self.spans.lock() {
                Ok(mut queue) => std::mem::take(&mut *queue),
                Err(_) => continue,
            };
            if spans.is_empty() {
                continue;
            }
            let count = spans.len() as u64;
            let request = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(resource.clone()),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: "portcullis".into(),
                            version: env!("CARGO_PKG_VERSION").into(),
                            ..InstrumentationScope::default()
                        }),
                        spans,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            };
            let body = Bytes::from(request.encode_to_vec());
            let Ok(post) = http::Request::post(endpoint.clone())
                .header(http::header::CONTENT_TYPE, "application/x-protobuf")
                .body(Full::new(body))
            else {
                continue;
            };
            match tokio::time::timeout(Duration::from_secs(10), client.request(post)).await {
                Ok(Ok(response)) if response.status().is_success() => {
                    self.exported.fetch_add(count, Ordering::Relaxed);
                }
                Ok(Ok(response)) => {
                    self.dropped.fetch_add(count, Ordering::Relaxed);
                    tracing::warn!(
                        status = response.status().as_u16(),
                        "the trace collector refused spans"
                    );
                }
                Ok(Err(e)) => {
                    self.dropped.fetch_add(count, Ordering::Relaxed);
                    tracing::warn!("cannot reach the trace collector: {e}");
                }
                Err(_) => {
                    self.dropped.fetch_add(count, Ordering::Relaxed);
                    tracing::warn!("the trace collector did not answer in time");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_is_continued_and_passed_on() {
        let incoming = http::HeaderValue::from_static(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
        let context = TraceContext::start(Some(&incoming), 0.0);
        assert_eq!(
            hex::encode(context.trace_id),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(
            context.parent.map(hex::encode).as_deref(),
            Some("00f067aa0ba902b7")
        );
        assert!(context.sampled, "the client's decision stands");
        let passed = context.traceparent();
        assert!(passed.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(
            !passed.contains("00f067aa0ba902b7"),
            "our span is the parent now"
        );
        assert!(passed.ends_with("-01"));
    }

    #[test]
    fn malformed_traceparents_start_a_new_trace() {
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "garbage",
        ] {
            let value = http::HeaderValue::from_static(bad);
            let context = TraceContext::start(Some(&value), 1.0);
            assert_eq!(context.parent, None, "{bad}");
            assert_ne!(context.trace_id, [0; 16]);
        }
    }

    #[test]
    fn new_traces_are_sampled_at_the_ratio() {
        let sampled = (0..10_000)
            .filter(|_| TraceContext::start(None, 0.25).sampled)
            .count();
        assert!((2000..3000).contains(&sampled), "{sampled}");
    }
}
