//! OpenTelemetry traces: the gateway exports a server span per request
//! and a child span per plugin call over OTLP/HTTP; a receiver started
//! here decodes them with the official OTLP protobuf types. A client's
//! `traceparent` is continued, and the upstream gets one naming the
//! request's span as its parent.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::net::TcpListener;

use crate::support::{Gateway, Origin, fixture, send};

/// An OTLP/HTTP receiver: every span posted to `/v1/traces`.
async fn receiver() -> (SocketAddr, Arc<Mutex<Vec<Span>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let spans = Arc::new(Mutex::new(Vec::new()));
    let store = spans.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let store = store.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let store = store.clone();
                    async move {
                        let path_ok = request.uri().path() == "/v1/traces";
                        let typed = request
                            .headers()
                            .get("content-type")
                            .is_some_and(|v| v == "application/x-protobuf");
                        let body = request.into_body().collect().await.map(|b| b.to_bytes());
                        let status = match (path_ok && typed, body) {
                            (true, Ok(body)) => match ExportTraceServiceRequest::decode(body) {
                                Ok(export) => {
                                    let mut spans = store.lock().expect("spans");
                                    for resource in export.resource_spans {
                                        for scope in resource.scope_spans {
                                            spans.extend(scope.spans);
                                        }
                                    }
                                    200
                                }
                                Err(_) => 400,
                            },
                            _ => 400,
                        };
                        let mut response = http::Response::new(Full::new(Bytes::new()));
                        *response.status_mut() =
                            http::StatusCode::from_u16(status).expect("status");
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, spans)
}

/// Poll (up to 10 s) until `count` spans of trace `trace_id` arrived.
async fn spans_of(store: &Mutex<Vec<Span>>, trace_id: &[u8], count: usize) -> Vec<Span> {
    let started = Instant::now();
    loop {
        let found: Vec<Span> = store
            .lock()
            .expect("spans")
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect();
        if found.len() >= count || started.elapsed() > Duration::from_secs(10) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn requests_and_plugin_calls_are_exported_as_spans_of_the_clients_trace() {
    let (collector, store) = receiver().await;
    let origin = Origin::start().await;
    let gateway = Gateway::start(&format!(
        r#"
[traces]
endpoint = "http://{collector}/v1/traces"
export_every_ms = 100

[plugins.misbehave]
path = "{misbehave}"

[plugins.show-context]
path = "{show_context}"

[[routes]]
id = "api"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{target}"] }}
plugins = [{{ name = "misbehave" }}, {{ name = "show-context" }}]
"#,
        misbehave = fixture("misbehave").display(),
        show_context = fixture("show-context").display(),
        target = origin.target(),
    ));

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client_span = "00f067aa0ba902b7";
    let reply = send(
        "GET",
        &gateway.url("/orders?access_token=secret-in-query"),
        &[("traceparent", &format!("00-{trace_id}-{client_span}-01"))],
        "",
    )
    .await;
    assert_eq!(reply.status, 200);

    // The upstream was told our span is its parent.
    let upstream = reply.json()["headers"]["traceparent"][0]
        .as_str()
        .expect("traceparent upstream")
        .to_string();
    let parts: Vec<&str> = upstream.split('-').collect();
    assert_eq!(parts[1], trace_id);
    assert_ne!(parts[2], client_span);
    assert_eq!(parts[3], "01");

    let spans = spans_of(&store, &hex::decode(trace_id).expect("hex"), 3).await;
    assert_eq!(spans.len(), 3, "{spans:?}");
    let request = spans
        .iter()
        .find(|s| s.parent_span_id == hex::decode(client_span).expect("hex"))
        .expect("the request span is a child of the client's");
    assert_eq!(hex::encode(&request.span_id), parts[2]);
    assert_eq!(request.name, "GET api");
    assert!(request.end_time_unix_nano > request.start_time_unix_nano);
    let attribute = |span: &Span, key: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone())
            .and_then(|v| v.value)
    };
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    assert_eq!(
        attribute(request, "url.path"),
        Some(Value::StringValue("/orders".into()))
    );
    assert_eq!(
        attribute(request, "http.response.status_code"),
        Some(Value::IntValue(200))
    );
    let plugins: Vec<&Span> = spans
        .iter()
        .filter(|s| s.parent_span_id == request.span_id)
        .collect();
    let mut names: Vec<&str> = plugins.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["plugin misbehave", "plugin show-context"]);
    for plugin in plugins {
        assert!(plugin.start_time_unix_nano >= request.start_time_unix_nano);
        assert!(plugin.end_time_unix_nano <= request.end_time_unix_nano);
        assert_eq!(
            attribute(plugin, "portcullis.outcome"),
            Some(Value::StringValue("allow".into()))
        );
    }

    // Without a traceparent, a trace starts here.
    let fresh = send("GET", &gateway.url("/x"), &[], "").await;
    let started = fresh.json()["headers"]["traceparent"][0]
        .as_str()
        .expect("traceparent")
        .to_string();
    let new_trace = started.split('-').nth(1).expect("trace id").to_string();
    assert_ne!(new_trace, trace_id);
    let spans = spans_of(&store, &hex::decode(&new_trace).expect("hex"), 3).await;
    assert!(
        spans.iter().any(|s| s.parent_span_id.is_empty()),
        "a root span"
    );
}
