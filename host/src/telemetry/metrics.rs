//! Prometheus metrics (prometheus-client), served at the admin API's
//! `/metrics`. Names follow Prometheus conventions: a `portcullis_`
//! prefix, base units (seconds, bytes), `_total` on counters. Label values
//! are bounded: routes, plugins and policies come from the config; methods
//! outside the standard ones are `OTHER`; plugin-chosen names and values
//! are checked and capped in number.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::exponential_buckets;

use super::histogram::AtomicHistogram as Histogram;
use prometheus_client::registry::{Registry, Unit};

/// A metric's labels, in order.
pub type Labels = Vec<(&'static str, String)>;

type Counters = Family<Labels, Counter>;
type Gauges = Family<Labels, Gauge>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// Distinct events plugins may define, across all plugins: past it, new
/// ones are not recorded (and counted as such).
const MAX_PLUGIN_EVENTS: usize = 1000;

/// Distinct values of one event's label (or of one plugin's failure
/// reasons); past it, new values count as `other`.
const MAX_LABELS_PER_EVENT: usize = 100;

fn latency_histogram() -> Histogram {
    // 100 µs to ~6.5 s.
    Histogram::new(exponential_buckets(0.0001, 3.0, 11))
}

fn plugin_histogram() -> Histogram {
    // 10 µs to ~0.2 s.
    Histogram::new(exponential_buckets(0.00001, 3.0, 10))
}

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    /// Requests by route, method and status.
    pub requests: Counters,
    /// Request duration, head to last response byte, by route.
    pub request_duration: Histograms,
    /// Upstream duration, request sent to response head, by route.
    pub upstream_duration: Histograms,
    /// Upstream failures by route and kind.
    pub upstream_errors: Counters,
    /// Plugin calls by plugin, phase and outcome.
    pub plugin_calls: Counters,
    /// Plugin call duration by plugin.
    pub plugin_duration: Histograms,
    /// Plugin decisions given again without a call, by plugin.
    pub plugin_reused: Counters,
    /// Rate-limit rejections by policy.
    pub rate_limited: Counters,
    /// Authentication failures by plugin and reason.
    pub auth_failures: Counters,
    /// TLS handshakes by result.
    pub tls_handshakes: Counters,
    /// Events plugins count through the `metrics` capability.
    pub plugin_events: Counters,
    /// Threat detections by detector and action.
    pub threats: Counters,
    /// Configuration changes by result.
    pub config_changes: Counters,
    /// Live plugin instances by plugin.
    pub plugin_instances: Gauges,
    /// 1 while a plugin's breaker is open (or half-open), by plugin.
    pub plugin_breaker_open: Gauges,
    /// Clients or accounts on the block list.
    pub blocked: Gauges,
    /// Log lines dropped because a writer fell behind, by log.
    pub log_dropped: Gauges,
    /// 1 while the shared state store (Redis) answers, 0 while it fails,
    /// by feature.
    pub state_up: Gauges,
    /// Failed calls to the shared state store, by feature.
    pub state_errors: Counters,
    /// Events plugins counted, and the label values seen for each.
    plugin_event_names: Mutex<HashMap<(String, String), HashSet<String>>>,
    /// Plugin events not recorded because of the cap.
    pub plugin_events_refused: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All metrics, registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("portcullis");
        let requests = Counters::default();
        registry.register("requests", "Requests served", requests.clone());
        let request_duration = Histograms::new_with_constructor(latency_histogram as fn() -> _);
        registry.register_with_unit(
            "request_duration",
            "Time from request head to the last response byte",
            Unit::Seconds,
            request_duration.clone(),
        );
        let upstream_duration = Histograms::new_with_constructor(latency_histogram as fn() -> _);
        registry.register_with_unit(
            "upstream_duration",
            "Time from sending a request upstream to its response head",
            Unit::Seconds,
            upstream_duration.clone(),
        );
        let upstream_errors = Counters::default();
        registry.register(
            "upstream_errors",
            "Upstream exchanges that failed",
            upstream_errors.clone(),
        );
        let plugin_calls = Counters::default();
        registry.register(
            "plugin_calls",
            "Plugin calls by outcome (allow, deny, error, skipped)",
            plugin_calls.clone(),
        );
        let plugin_reused = Counters::default();
        registry.register(
            "plugin_decisions_reused",
            "Plugin decisions given again without a call (decision-cache)",
            plugin_reused.clone(),
        );
        let plugin_duration = Histograms::new_with_constructor(plugin_histogram as fn() -> _);
        registry.register_with_unit(
            "plugin_call_duration",
            "Duration of one plugin call",
            Unit::Seconds,
            plugin_duration.clone(),
        );
        let rate_limited = Counters::default();
        registry.register(
            "rate_limited",
            "Requests refused by a rate-limit policy",
            rate_limited.clone(),
        );
        let auth_failures = Counters::default();
        registry.register(
            "auth_failures",
            "Requests an authentication plugin refused, by reason",
            auth_failures.clone(),
        );
        let tls_handshakes = Counters::default();
        registry.register(
            "tls_handshakes",
            "TLS handshakes by result",
            tls_handshakes.clone(),
        );
        let plugin_events = Counters::default();
        registry.register(
            "plugin_events",
            "Events plugins count through the metrics capability",
            plugin_events.clone(),
        );
        let plugin_events_refused = Counter::default();
        registry.register(
            "plugin_events_refused",
            "Plugin events not recorded: bad names or too many distinct ones",
            plugin_events_refused.clone(),
        );
        let threats = Counters::default();
        registry.register(
            "threat_detections",
            "Threat detections by detector and action",
            threats.clone(),
        );
        let config_changes = Counters::default();
        registry.register(
            "config_changes",
            "Configuration changes by result",
            config_changes.clone(),
        );
        let plugin_instances = Gauges::default();
        registry.register(
            "plugin_instances",
            "Live plugin instances",
            plugin_instances.clone(),
        );
        let plugin_breaker_open = Gauges::default();
        registry.register(
            "plugin_breaker_open",
            "1 while a plugin's breaker is open or half-open",
            plugin_breaker_open.clone(),
        );
        let blocked = Gauges::default();
        registry.register(
            "blocked",
            "Clients and accounts on the block list",
            blocked.clone(),
        );
        let log_dropped = Gauges::default();
        registry.register(
            "log_lines_dropped",
            "Log lines dropped because the writer fell behind",
            log_dropped.clone(),
        );
        let state_up = Gauges::default();
        registry.register(
            "state_backend_up",
            "1 while the shared state store answers a feature, 0 while it fails",
            state_up.clone(),
        );
        let state_errors = Counters::default();
        registry.register(
            "state_backend_errors",
            "Failed calls to the shared state store, by feature",
            state_errors.clone(),
        );
        Self {
            registry,
            requests,
            request_duration,
            upstream_duration,
            upstream_errors,
            plugin_calls,
            plugin_duration,
            plugin_reused,
            rate_limited,
            auth_failures,
            tls_handshakes,
            plugin_events,
            threats,
            config_changes,
            plugin_instances,
            plugin_breaker_open,
            blocked,
            log_dropped,
            state_up,
            state_errors,
            plugin_event_names: Mutex::new(HashMap::new()),
            plugin_events_refused,
        }
    }

    /// Count a plugin's event `name` (with an optional `label` value),
    /// unless the name is malformed or the cap on distinct events is
    /// reached; past [`MAX_LABELS_PER_EVENT`] values of an event's label,
    /// new values count as `other`.
    pub fn plugin_event(&self, plugin: &str, name: &str, label: Option<&str>, value: u64) {
        if !valid_name(name) || !label.is_none_or(valid_label) {
            self.plugin_events_refused.inc();
            return;
        }
        let Some(label) = self.admit(plugin, name, label, MAX_PLUGIN_EVENTS) else {
            self.plugin_events_refused.inc();
            return;
        };
        let mut labels: Labels = vec![("plugin", plugin.to_string()), ("event", name.to_string())];
        if let Some(label) = label {
            labels.push(("label", label));
        }
        self.plugin_events.get_or_create(&labels).inc_by(value);
    }

    /// Count an authentication failure; a plugin's distinct reasons are
    /// capped like event labels.
    pub fn auth_failure(&self, plugin: &str, reason: &str) {
        let Some(Some(reason)) = self.admit(plugin, "\0auth", Some(reason), usize::MAX) else {
            return;
        };
        self.auth_failures
            .get_or_create(&vec![("plugin", plugin.to_string()), ("reason", reason)])
            .inc();
    }

    /// Whether `(plugin, event)` may be counted (at most `max_events`
    /// distinct ones), and the label value to count it under.
    #[allow(clippy::option_option)]
    fn admit(
        &self,
        plugin: &str,
        event: &str,
        label: Option<&str>,
        max_events: usize,
    ) -> Option<Option<String>> {
        let mut events = self.plugin_event_names.lock().ok()?;
        let key = (plugin.to_string(), event.to_string());
        if !events.contains_key(&key) {
            if events.len() >= max_events {
                return None;
            }
            events.insert(key.clone(), HashSet::new());
        }
        let labels = events.get_mut(&key)?;
        Some(label.map(|label| {
            if labels.contains(label) {
                label.to_string()
            } else if labels.len() < MAX_LABELS_PER_EVENT {
                labels.insert(label.to_string());
                label.to_string()
            } else {
                "other".to_string()
            }
        }))
    }

    /// The Prometheus text exposition format (0.0.4).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        prometheus_text(&text)
    }
}

/// prometheus-client writes OpenMetrics, where a counter family `x` has
/// samples `x_total`; the Prometheus format (what `promtool check metrics`
/// and most scrapers read) names the family as its samples, and has no
/// `# UNIT` or `# EOF` lines.
fn prometheus_text(openmetrics: &str) -> String {
    let counters: HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// One route's metric handles, looked up in the families once rather than
/// on every request (a lookup allocates its labels).
pub struct RouteMetrics {
    route: String,
    duration: Histogram,
    upstream: Histogram,
    /// By (method, status): a handful per route, so a short list searched
    /// in order beats hashing the key on every request.
    requests: RwLock<Vec<((&'static str, u16), Counter)>>,
}

impl RouteMetrics {
    /// Count a request answered with `status`, its durations.
    pub fn request(
        &self,
        metrics: &Metrics,
        method: &'static str,
        status: u16,
        duration: f64,
        upstream: Option<f64>,
    ) {
        let known = self.requests.read().ok().and_then(|requests| {
            requests
                .iter()
                .find(|(key, _)| *key == (method, status))
                .map(|(_, counter)| counter.clone())
        });
        let counter = known.unwrap_or_else(|| {
            let counter = metrics
                .requests
                .get_or_create(&vec![
                    ("route", self.route.clone()),
                    ("method", method.to_string()),
                    ("status", status.to_string()),
                ])
                .clone();
            if let Ok(mut requests) = self.requests.write()
                && !requests.iter().any(|(key, _)| *key == (method, status))
            {
                requests.push(((method, status), counter.clone()));
            }
            counter
        });
        counter.inc();
        self.duration.observe(duration);
        if let Some(upstream) = upstream {
            self.upstream.observe(upstream);
        }
    }
}

/// One plugin's metric handles: calls by phase and outcome, made on first
/// use; call duration.
pub struct PluginMetrics {
    plugin: String,
    calls: [[OnceLock<Counter>; 5]; 4],
    duration: Histogram,
    /// Decisions given again without a call.
    pub reused: Counter,
}

impl PluginMetrics {
    /// Count a call; `phase` and `outcome` index the WIT phases and the
    /// outcomes in the order their labels are given.
    pub fn call(
        &self,
        metrics: &Metrics,
        phase: (usize, &'static str),
        outcome: (usize, &'static str),
        duration: Option<f64>,
    ) {
        if let Some(cell) = self.calls.get(phase.0).and_then(|row| row.get(outcome.0)) {
            cell.get_or_init(|| {
                metrics
                    .plugin_calls
                    .get_or_create(&vec![
                        ("plugin", self.plugin.clone()),
                        ("phase", phase.1.to_string()),
                        ("outcome", outcome.1.to_string()),
                    ])
                    .clone()
            })
            .inc();
        }
        if let Some(duration) = duration {
            self.duration.observe(duration);
        }
    }
}

impl Metrics {
    /// The handles of `route` (`-` for requests no route matched).
    pub fn route(&self, route: &str) -> Arc<RouteMetrics> {
        let labels = vec![("route", route.to_string())];
        Arc::new(RouteMetrics {
            route: route.to_string(),
            duration: self.request_duration.get_or_create(&labels).clone(),
            upstream: self.upstream_duration.get_or_create(&labels).clone(),
            requests: RwLock::new(Vec::new()),
        })
    }

    /// The handles of `plugin`.
    pub fn plugin(&self, plugin: &str) -> PluginMetrics {
        PluginMetrics {
            plugin: plugin.to_string(),
            calls: Default::default(),
            duration: self
                .plugin_duration
                .get_or_create(&vec![("plugin", plugin.to_string())])
                .clone(),
            reused: self
                .plugin_reused
                .get_or_create(&vec![("plugin", plugin.to_string())])
                .clone(),
        }
    }
}

/// `[a-z][a-z0-9_]*`, at most 64 bytes.
fn valid_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Printable ASCII without quotes or backslashes, at most 64 bytes.
fn valid_label(value: &str) -> bool {
    value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

/// A method label: the standard methods, else `OTHER`.
pub fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::PATCH => "PATCH",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let metrics = Metrics::new();
        metrics
            .requests
            .get_or_create(&vec![("route", "api".into()), ("status", "200".into())])
            .inc();
        metrics
            .request_duration
            .get_or_create(&vec![("route", "api".into())])
            .observe(0.002);
        let text = metrics.encode();
        assert!(
            text.contains("portcullis_requests_total{route=\"api\",status=\"200\"} 1"),
            "{text}"
        );
        assert!(text.contains("# TYPE portcullis_request_duration_seconds histogram"));
        assert!(
            text.contains("# TYPE portcullis_requests_total counter"),
            "{text}"
        );
        assert!(text.contains("# HELP portcullis_requests_total Requests served"));
        assert!(!text.contains("# EOF"));
        assert!(text.contains("portcullis_request_duration_seconds_bucket{"));
    }

    #[test]
    fn plugin_events_are_checked_and_capped() {
        let metrics = Metrics::new();
        metrics.plugin_event("waf", "blocked", Some("942100"), 1);
        metrics.plugin_event("waf", "Bad Name", None, 1);
        metrics.plugin_event("waf", "quoted", Some("a\"b"), 1);
        for i in 0..MAX_PLUGIN_EVENTS + 5 {
            metrics.plugin_event("noisy", &format!("e{i}"), None, 1);
        }
        let text = metrics.encode();
        assert!(text.contains(
            "portcullis_plugin_events_total{plugin=\"waf\",event=\"blocked\",label=\"942100\"} 1"
        ));
        assert!(
            text.contains("portcullis_plugin_events_refused_total 8"),
            "{text}"
        );
    }
}
