//! Log output. The operational log: human-readable lines by default, one
//! JSON object per line with `--log-format json`; `RUST_LOG` overrides the
//! level (default info, rustls errors only). The audit log (events with
//! target `audit`: admin calls, configuration changes, plugin breakers,
//! blocks) is a stream of its own, always JSON with `"log":"audit"`, sent
//! where `[logging] audit` says.

use crate::telemetry::json_line::JsonLine;

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
        let mut line = JsonLine::with_capacity(256);
        line.raw("{\"log\":\"audit\",\"time\":\"");
        line.time(std::time::SystemTime::now());
        line.raw("\",\"level\":\"");
        line.raw(event.metadata().level().as_str());
        line.raw("\"");
        event.record(&mut JsonFields(&mut line));
        line.raw("}");
        crate::telemetry::get().audit(line.into_string());
    }
}

/// Appends `,"name":value` for each field.
struct JsonFields<'a>(&'a mut JsonLine);

impl JsonFields<'_> {
    fn key(&mut self, field: &Field) {
        self.0.raw(",");
        self.0.string(field.name());
        self.0.raw(":");
    }
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        self.0.string(value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        self.0.number(value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        if value < 0 {
            self.0.raw("-");
        }
        self.0.number(value.unsigned_abs());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.0.raw(if value { "true" } else { "false" });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.key(field);
        self.0.string(&format!("{value:?}"));
    }
}
