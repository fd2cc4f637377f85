//! Log output. The operational log: human-readable lines by default, one
//! JSON object per line with `--log-format json`; `RUST_LOG` overrides the
//! level (default info, rustls errors only). The audit log (events with
//! target `audit`: admin calls, configuration changes, plugin breakers,
//! blocks) is a stream of its own, always JSON with `"log":"audit"`, sent
//! where `[logging] audit` says.

use std::fmt::Write as _;

use clap::ValueEnum;
use tracing::field::{Field, Visit};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// For people.
    #[default]
    Text,
    /// For machines.
    Json,
}

/// The target of audit events.
pub const AUDIT: &str = "audit";

/// Install the global subscriber.
pub fn init(format: LogFormat) {
    // rustls warns about each misbehaving client (e.g. a renegotiation
    // attempt); those are the client's problem, not the operator's.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,rustls=error"));
    let operational = filter_fn(|meta| meta.target() != AUDIT);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stdout);
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .boxed(),
    };
    // RUST_LOG tunes the operational log only: the audit stream is never
    // filtered away.
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(operational).with_filter(filter))
        .with(AuditLayer.with_filter(filter_fn(|meta| meta.target() == AUDIT)))
        .try_init();
}

/// Writes audit events to the audit stream as JSON lines.
struct AuditLayer;

impl<S: tracing::Subscriber> Layer<S> for AuditLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut line = String::with_capacity(256);
        line.push_str("{\"log\":\"audit\",\"time\":\"");
        line.push_str(&now_rfc3339());
        let _ = write!(line, "\",\"level\":\"{}\"", event.metadata().level());
        let mut fields = JsonFields(&mut line);
        event.record(&mut fields);
        line.push('}');
        crate::telemetry::get().audit(line);
    }
}

fn now_rfc3339() -> String {
    let mut text = String::new();
    crate::telemetry::access::push_time(&mut text, std::time::SystemTime::now());
    text
}

/// Appends `,"name":value` for each field.
struct JsonFields<'a>(&'a mut String);

impl JsonFields<'_> {
    fn key(&mut self, field: &Field) {
        self.0.push(',');
        crate::telemetry::access::push_str(self.0, field.name());
        self.0.push(':');
    }
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        crate::telemetry::access::push_str(self.0, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.key(field);
        crate::telemetry::access::push_str(self.0, &format!("{value:?}"));
    }
}
