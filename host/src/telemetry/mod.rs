//! What the gateway tells operators: metrics ([`metrics`]), the access log
//! ([`access`]) and the streams lines go to ([`sink`]). One instance per
//! process, set up from `[logging]` at start; before that (and in tools
//! and benchmarks) metrics are kept and no access line is written.

pub mod access;
pub mod finish;
mod histogram;
pub mod json_line;
pub mod metrics;
pub mod sink;
mod spans;
pub mod traces;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use access::AccessRecord;
use metrics::{Metrics, method_label};
use sink::Sink;

/// The process's telemetry.
pub struct Telemetry {
    /// Every metric.
    pub metrics: Metrics,
    access: Option<Sink>,
    audit: Option<Sink>,
    /// Log one in this many successful requests (errors always).
    sample_every: u64,
    seen: AtomicU64,
    /// Query parameters whose values are never logged.
    pub redact_query: Vec<String>,
    /// Whether requests and plugin calls are counted.
    pub metrics_on: bool,
    /// Trace export, when `[traces]` is configured.
    pub traces: Option<traces::Exporter>,
}

static TELEMETRY: OnceLock<Telemetry> = OnceLock::new();

/// The process's telemetry (metrics only, until [`init`]).
pub fn get() -> &'static Telemetry {
    TELEMETRY.get_or_init(|| Telemetry {
        metrics: Metrics::new(),
        access: None,
        audit: None,
        sample_every: 1,
        seen: AtomicU64::new(0),
        redact_query: crate::config::default_redacted_query(),
        metrics_on: true,
        traces: None,
    })
}

/// Set up the log streams from `[logging]` and trace export from
/// `[traces]`; call once, inside the runtime, before serving.
pub fn init(
    config: &crate::config::LoggingConfig,
    trace_config: Option<&crate::config::TracesConfig>,
) -> std::io::Result<&'static Telemetry> {
    let access = match config.access_destination() {
        Some(destination) => Some(Sink::start("access", destination)?),
        None => None,
    };
    let audit = Some(Sink::start("audit", config.audit_destination())?);
    let telemetry = Telemetry {
        metrics: Metrics::new(),
        access,
        audit,
        sample_every: config.sample_every(),
        seen: AtomicU64::new(0),
        redact_query: config.redact_query.clone(),
        metrics_on: config.metrics,
        traces: trace_config.map(|t| traces::Exporter::new(t.max_queued, t.sample)),
    };
    if TELEMETRY.set(telemetry).is_err() {
        return Err(std::io::Error::other(
            "telemetry was used before it was set up from the config",
        ));
    }
    let telemetry = get();
    if let (Some(settings), Some(exporter)) = (trace_config, &telemetry.traces)
        && let Ok(endpoint) = settings.endpoint.parse::<http::Uri>()
    {
        let every = std::time::Duration::from_millis(settings.export_every_ms);
        let service = settings.service_name.clone();
        tokio::spawn(exporter.run(endpoint, every, service));
    }
    Ok(telemetry)
}

impl Telemetry {
    /// Count a finished request and write its access line (sampled: every
    /// error, one in `sample_every` of the rest).
    pub fn finish_request(&self, record: AccessRecord) {
        if self.metrics_on {
            self.count_request(&record);
        }
        if let (Some(exporter), Some(trace)) = (&self.traces, &record.facts.trace)
            && trace.sampled
        {
            exporter.record(spans::of(&record, trace));
        }
        let Some(access) = &self.access else { return };
        let sampled = record.status >= 400
            || self.sample_every <= 1
            || self
                .seen
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(self.sample_every);
        if sampled {
            access.write(&record.line());
        }
    }

    fn count_request(&self, record: &AccessRecord) {
        static UNROUTED: OnceLock<std::sync::Arc<metrics::RouteMetrics>> = OnceLock::new();
        let route = match &record.facts.route_metrics {
            Some(route) => route,
            None => UNROUTED.get_or_init(|| self.metrics.route("-")),
        };
        route.request(
            &self.metrics,
            method_label(&record.method),
            record.status,
            record.duration.as_secs_f64(),
            record.facts.upstream.map(|u| u.as_secs_f64()),
        );
    }

    /// Whether anything (an access line, a span) shows a request's target.
    pub fn shows_target(&self) -> bool {
        self.access.is_some() || self.traces.is_some()
    }

    /// Write out what the logs hold and stop their writers (at shutdown).
    pub fn close(&self) {
        for sink in [&self.access, &self.audit].into_iter().flatten() {
            sink.close();
        }
    }

    /// Write an audit line (already JSON).
    pub fn audit(&self, line: String) {
        match &self.audit {
            Some(audit) => audit.write(line.as_bytes()),
            None => println!("{line}"),
        }
    }

    /// Refresh the gauges that are read rather than counted.
    pub fn refresh_log_gauges(&self) {
        for (name, sink) in [("access", &self.access), ("audit", &self.audit)] {
            if let Some(sink) = sink {
                self.metrics
                    .log_dropped
                    .get_or_create(&vec![("log", name.to_string())])
                    .set(i64::try_from(sink.dropped()).unwrap_or(i64::MAX));
            }
        }
    }
}
