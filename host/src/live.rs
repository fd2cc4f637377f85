//! The running configuration and its replacement while traffic flows.
//!
//! A new configuration is checked and built off the request path (every
//! plugin compiled and its instances configured), then swapped in with one
//! atomic store. Each request takes the gateway current when it starts and
//! keeps it to the end, so in-flight requests finish on the version they
//! started with; the old version is dropped when its last request ends.
//! A configuration that fails any check is refused with its reason and the
//! running one stays.
//!
//! The listeners are set up once, at start: a change to their settings
//! (addresses, TLS, connection limits and timeouts, the admin API, the key
//! store) is refused with the key that needs a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;

use crate::config::{self, Config, ConfigError};
use crate::gateway::{BuildError, Gateway};
use crate::state::ProcessState;

/// The gateway in service, replaceable.
pub struct Live {
    current: ArcSwap<Gateway>,
    file: PathBuf,
    process: ProcessState,
    /// The running configuration as written, before checks joined its
    /// paths and resolved its secrets: admin edits apply to this, and the
    /// result is checked as a file would be. The lock also makes changes
    /// one at a time, so an edit never builds on a config a concurrent
    /// reload is replacing.
    written: tokio::sync::Mutex<Config>,
    generation: AtomicU64,
}

/// A change that was applied.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    /// Counts the configurations applied since start; the first is 1.
    pub generation: u64,
    /// How long checking and building took.
    pub build_ms: u64,
    /// Routes now served.
    pub routes: usize,
}

impl Live {
    /// Serve `gateway`, built from `written` (as read from `file`, before
    /// checks).
    pub fn new(gateway: Gateway, written: Config, file: &Path, process: ProcessState) -> Self {
        Self {
            current: ArcSwap::from_pointee(gateway),
            file: file.to_path_buf(),
            process,
            written: tokio::sync::Mutex::new(written),
            generation: AtomicU64::new(1),
        }
    }

    /// The gateway a request starting now uses.
    pub fn current(&self) -> Arc<Gateway> {
        self.current.load_full()
    }

    /// The configuration file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Read the file again and apply it.
    pub async fn reload(&self, reason: &str) -> Result<Applied, BuildError> {
        let mut written = self.written.lock().await;
        let file = self.file.clone();
        let outcome = match blocking(move || config::read_file(&file)).await {
            Ok(fresh) => self.check_and_swap(&mut written, fresh).await,
            Err(e) => Err(e.into()),
        };
        log_outcome(reason, &outcome);
        outcome
    }

    /// Apply `edit` to a copy of the running configuration as written,
    /// check the result as if it had been read from the file, and apply it.
    pub async fn change<E>(
        &self,
        reason: &str,
        edit: impl FnOnce(&mut Config) -> Result<(), E>,
    ) -> Result<Result<Applied, BuildError>, E> {
        let mut written = self.written.lock().await;
        let mut edited = written.clone();
        edit(&mut edited)?;
        let outcome = self.check_and_swap(&mut written, edited).await;
        log_outcome(reason, &outcome);
        Ok(outcome)
    }

    /// Check `fresh` (file reads, secrets, the geo database: off the async
    /// workers), build it, swap it in, and remember it as written.
    async fn check_and_swap(
        &self,
        written: &mut Config,
        fresh: Config,
    ) -> Result<Applied, BuildError> {
        let started = Instant::now();
        let file = self.file.clone();
        let unchecked = fresh.clone();
        let checked = blocking(move || {
            let mut checked = unchecked;
            config::check_config(&file, &mut checked).map(|()| checked)
        })
        .await?;
        let previous = self.current();
        restart_only_unchanged(&previous.config, &checked, &self.file)?;
        let next =
            Gateway::build_after(&checked, &self.file, &self.process, Some(&previous)).await?;
        let routes = next.router.routes().len();
        self.current.store(Arc::new(next));
        *written = fresh;
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Applied {
            generation,
            build_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            routes,
        })
    }
}

/// Run a config read or check on the blocking pool; a lost task reads as
/// a config error rather than a panic.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ConfigError> + Send + 'static,
) -> Result<T, ConfigError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(ConfigError::new(
            Path::new(""),
            "",
            format!("the check did not finish: {e}"),
        ))
    })
}

fn log_outcome(reason: &str, outcome: &Result<Applied, BuildError>) {
    let result = if outcome.is_ok() {
        "applied"
    } else {
        "refused"
    };
    crate::telemetry::get()
        .metrics
        .config_changes
        .get_or_create(&vec![("result", result.to_string())])
        .inc();
    match outcome {
        Ok(applied) => tracing::info!(
            target: "audit",
            reason,
            generation = applied.generation,
            build_ms = applied.build_ms,
            routes = applied.routes,
            "configuration applied"
        ),
        Err(e) => tracing::warn!(
            target: "audit",
            reason,
            error = %format!("{e:#}"),
            "configuration refused; the running one stays"
        ),
    }
}

/// Refuse changes to what the listeners were set up with.
fn restart_only_unchanged(running: &Config, next: &Config, file: &Path) -> Result<(), ConfigError> {
    let (a, b) = (&running.server, &next.server);
    let fixed: [(&str, String, String); 14] = [
        (
            "logging",
            format!("{:?}", running.logging),
            format!("{:?}", next.logging),
        ),
        (
            "traces",
            format!("{:?}", running.traces),
            format!("{:?}", next.traces),
        ),
        ("server.listen", a.listen.to_string(), b.listen.to_string()),
        (
            "server.http_redirect_listen",
            format!("{:?}", a.http_redirect_listen),
            format!("{:?}", b.http_redirect_listen),
        ),
        ("server.tls", format!("{:?}", a.tls), format!("{:?}", b.tls)),
        (
            "server.grace_period_ms",
            a.grace_period_ms.to_string(),
            b.grace_period_ms.to_string(),
        ),
        (
            "server.header_read_timeout_ms",
            a.header_read_timeout_ms.to_string(),
            b.header_read_timeout_ms.to_string(),
        ),
        (
            "server.idle_timeout_ms",
            a.idle_timeout_ms.to_string(),
            b.idle_timeout_ms.to_string(),
        ),
        (
            "server.max_connections",
            format!("{}/{}", a.max_connections, a.max_connections_per_ip),
            format!("{}/{}", b.max_connections, b.max_connections_per_ip),
        ),
        (
            "server.max_header_bytes",
            a.max_header_bytes.to_string(),
            b.max_header_bytes.to_string(),
        ),
        (
            "server.reload_check_ms",
            a.reload_check_ms.to_string(),
            b.reload_check_ms.to_string(),
        ),
        (
            "server.h2_max_concurrent_streams",
            a.h2_max_concurrent_streams.to_string(),
            b.h2_max_concurrent_streams.to_string(),
        ),
        (
            "admin",
            format!("{:?}{:?}", running.admin, running.api_keys),
            format!("{:?}{:?}", next.admin, next.api_keys),
        ),
        (
            "state",
            String::new(),
            // Compared whole: the Debug form hides the password.
            if running.state == next.state {
                String::new()
            } else {
                "changed".into()
            },
        ),
    ];
    match fixed.iter().find(|(_, was, now)| was != now) {
        Some((key, _, _)) => Err(ConfigError::new(
            file,
            *key,
            "the listeners were set up with the old value; it takes a restart to change",
        )),
        None => Ok(()),
    }
}

/// Files whose change triggers a reload: the config and the plugin
/// components it names.
fn watched_files(live: &Live) -> Vec<PathBuf> {
    let gateway = live.current();
    std::iter::once(live.file.clone())
        .chain(
            gateway
                .config
                .plugins
                .values()
                .filter_map(|p| p.path.clone()),
        )
        .collect()
}

fn stamps(files: &[PathBuf]) -> Vec<Option<SystemTime>> {
    files
        .iter()
        .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .collect()
}

/// Reload whenever the config file or a plugin component it names
/// changes, checking every `every`.
pub async fn watch_files(live: Arc<Live>, every: Duration) {
    let mut files = watched_files(&live);
    let mut seen = stamps(&files);
    loop {
        tokio::time::sleep(every).await;
        let now = stamps(&files);
        if now == seen {
            continue;
        }
        // A change is acted on once, whether or not the result loads: a
        // bad file is reported, not retried every tick.
        seen = now;
        let _ = live.reload("file changed").await;
        let named = watched_files(&live);
        if named != files {
            files = named;
            seen = stamps(&files);
        }
    }
}

/// Reload on every SIGHUP. The handler is installed before this returns,
/// so a SIGHUP right after start-up reloads rather than kills the process.
pub fn reload_on_hangup(live: Arc<Live>) -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    Ok(async move {
        while hangups.recv().await.is_some() {
            let _ = live.reload("SIGHUP").await;
        }
    })
}
