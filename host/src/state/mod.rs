//! State shared by several gateway instances, in Redis (`[state] backend =
//! "redis"`): rate-limit counters ([`limits`]), API keys with their
//! revocations ([`keys`]), the threat block list ([`blocks`]), authorizer
//! decisions ([`decisions`]) and plugins' key-value stores that ask for it
//! ([`kv`]). Each instance keeps what it needs per request
//! close at hand (leased tokens, an index of live keys), so Redis is asked
//! rarely and a Redis outage degrades as the config says instead of
//! stopping the gateway.

pub mod blocks;
pub mod decisions;
pub mod follower;
pub mod keys;
pub mod kv;
pub mod limits;
pub mod primary;
pub mod quotas;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use self::primary::{Locator, Primary};

use crate::apikeys::KeyStore;
use crate::config::{ApiKeysOnError, RateLimitsOnError, StateBackend, StateConfig};

/// What a process opens once and every configuration it serves uses.
#[derive(Clone, Default)]
pub struct ProcessState {
    /// The API key store.
    pub key_store: Option<Arc<KeyStore>>,
    /// The shared store, with `[state] backend = "redis"`.
    pub shared: Option<Arc<SharedState>>,
}

/// Why a call to the shared store failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StateError {
    /// Redis refused, failed or did not answer in time.
    #[error("shared state unavailable: {0}")]
    Unavailable(String),
    /// The server refused a write as a replica: a primary demoted by a
    /// failover.
    #[error("shared state unavailable: the server is a read-only replica now")]
    ReadOnly,
}

impl From<redis::RedisError> for StateError {
    fn from(e: redis::RedisError) -> Self {
        if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly) {
            return StateError::ReadOnly;
        }
        StateError::Unavailable(e.to_string())
    }
}

/// Failed calls in a row after which the connection is replaced: a
/// connection whose peer vanished without a reset times out rather than
/// failing, and the manager reconnects only on errors.
const FAILURES_BEFORE_RECONNECT: u32 = 3;

/// The features that use the shared store, each with its own health.
pub const FEATURES: [&str; 5] = [
    "rate_limits",
    "api_keys",
    "blocks",
    "kv",
    "authorizer_cache",
];

/// The connection to the shared store, for the whole process.
pub struct SharedState {
    locator: Locator,
    manager_config: ConnectionManagerConfig,
    pool_size: usize,
    /// The server in use; `None` until Sentinel has named it, and again
    /// after calls to it failed.
    primary: ArcSwapOption<Primary>,
    next: AtomicUsize,
    failures_in_a_row: AtomicU32,
    /// Runs lookups for blocking callers (threads outside the runtime).
    runtime: Option<tokio::runtime::Handle>,
    prefix: String,
    timeout: Duration,
    lease: u32,
    /// What shared rate limits do while Redis fails.
    pub rate_limits_on_error: RateLimitsOnError,
    /// What shared API keys do while Redis is unreachable.
    pub api_keys_on_error: ApiKeysOnError,
    /// Per feature of [`FEATURES`]: whether its last call succeeded.
    up: [AtomicBool; 5],
}

impl SharedState {
    /// The shared store `config` names, or `None` for `backend = "local"`.
    /// Connects lazily: a gateway starts while Redis is down, and follows
    /// its failure settings until Redis answers.
    pub fn open(config: &StateConfig) -> Result<Option<Arc<Self>>, StateError> {
        if config.backend == StateBackend::Local {
            return Ok(None);
        }
        let locator = Locator::new(config)?;
        let timeout = Duration::from_millis(config.timeout_ms);
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            // A failed call is not retried inside the request: the
            // failure setting answers it, and the manager reconnects.
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let primary = match locator.fixed() {
            Some(client) => Some(Arc::new(Primary::connect(
                client.clone(),
                &manager_config,
                config.pool_size,
            )?)),
            None => None,
        };
        Ok(Some(Arc::new(Self {
            locator,
            manager_config,
            pool_size: config.pool_size,
            primary: ArcSwapOption::new(primary),
            next: AtomicUsize::new(0),
            failures_in_a_row: AtomicU32::new(0),
            runtime: tokio::runtime::Handle::try_current().ok(),
            prefix: config.prefix.clone(),
            timeout,
            lease: config.lease,
            rate_limits_on_error: config.rate_limits_on_error,
            api_keys_on_error: config.api_keys_on_error,
            up: std::array::from_fn(|_| AtomicBool::new(true)),
        })))
    }

    /// `prefix` + `name`: every key and channel is namespaced.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The most tokens a rate limit takes at once.
    pub fn lease(&self) -> u32 {
        self.lease
    }

    /// The server in use, asked of Sentinel first if none is known.
    async fn primary(&self) -> Result<Arc<Primary>, StateError> {
        if let Some(primary) = self.primary.load_full() {
            return Ok(primary);
        }
        let client = self.locator.locate(self.timeout).await?;
        let located = Arc::new(Primary::connect(
            client,
            &self.manager_config,
            self.pool_size,
        )?);
        // Installed only where none is: callers that waited for the same
        // lookup, or a slow one, keep the primary already in use.
        let previous = self
            .primary
            .compare_and_swap(&None::<Arc<Primary>>, Some(located.clone()));
        if let Some(current) = previous.as_ref() {
            return Ok(current.clone());
        }
        tracing::info!(
            target: "audit",
            server = %located.client.get_connection_info().addr(),
            "shared state: Redis primary located"
        );
        Ok(located)
    }

    /// A multiplexed connection that reconnects by itself on errors (and
    /// is replaced after [`FAILURES_BEFORE_RECONNECT`] failures in a row).
    fn connection(&self, primary: &Primary) -> ConnectionManager {
        let connections = &primary.connections;
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % connections.len().max(1);
        match connections.get(turn) {
            Some(connection) => connection.clone(),
            // Never empty: `Primary::connect` makes at least one.
            None => ConnectionManager::clone(&connections[0]),
        }
    }

    /// A blocking connection of its own (for threads that follow a
    /// channel or serve admin calls), reads and writes bounded by the
    /// timeout. Not to be called on the runtime's own threads.
    pub fn blocking_connection(&self) -> Result<redis::Connection, StateError> {
        let primary = match (self.primary.load_full(), &self.runtime) {
            (Some(primary), _) => primary,
            (None, Some(runtime)) => runtime.block_on(self.primary())?,
            (None, None) => return Err(StateError::Unavailable("no runtime to locate".into())),
        };
        let connection = primary
            .client
            .get_connection_with_timeout(self.timeout)
            .inspect_err(|_| self.forget_located(&primary))?;
        connection.set_read_timeout(Some(self.timeout))?;
        connection.set_write_timeout(Some(self.timeout))?;
        Ok(connection)
    }

    /// With Sentinel, a server that refused a connection is asked about
    /// again: it may have failed over.
    fn forget_located(&self, primary: &Arc<Primary>) {
        if self.locator.fixed().is_none() {
            self.primary
                .compare_and_swap(&Some(primary.clone()), None::<Arc<Primary>>);
        }
    }

    /// Run `call` for `feature` on the next pooled connection, bounded by
    /// the timeout, and record the outcome ([`SharedState::record`]).
    pub async fn call<T, F, R>(&self, feature: &'static str, call: F) -> Result<T, StateError>
    where
        F: FnOnce(ConnectionManager) -> R,
        R: std::future::Future<Output = redis::RedisResult<T>>,
    {
        // One bound for locating the primary and the call: a request
        // never waits longer than the timeout, even behind a lookup.
        let answer = tokio::time::timeout(self.timeout, async {
            let primary = self.primary().await?;
            call(self.connection(&primary))
                .await
                .map_err(StateError::from)
        })
        .await
        .unwrap_or_else(|_| Err(StateError::Unavailable("timed out".into())));
        self.record(feature, answer)
    }

    /// Send `pipe` for `feature` on a task of its own: the request that
    /// asked for it does not wait (outside a runtime, nothing is sent).
    pub fn send_in_background(self: &Arc<Self>, feature: &'static str, pipe: redis::Pipeline) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let state = self.clone();
        runtime.spawn(async move {
            let _ = state
                .call(feature, |mut connection| async move {
                    pipe.query_async::<()>(&mut connection).await
                })
                .await;
        });
    }

    /// Record the outcome of a call for `feature` (one of [`FEATURES`]):
    /// a change between reachable and not is logged once, and every
    /// failure is counted.
    pub fn record<T>(
        &self,
        feature: &'static str,
        result: Result<T, StateError>,
    ) -> Result<T, StateError> {
        let index = FEATURES.iter().position(|f| *f == feature).unwrap_or(0);
        let ok = result.is_ok();
        let was = self.up[index].swap(ok, Ordering::Relaxed);
        let metrics = &crate::telemetry::get().metrics;
        metrics
            .state_up
            .get_or_create(&vec![("feature", feature.to_string())])
            .set(i64::from(ok));
        match &result {
            Err(e) => {
                metrics
                    .state_errors
                    .get_or_create(&vec![("feature", feature.to_string())])
                    .inc();
                if was {
                    tracing::warn!(target: "audit", feature, "shared state unreachable: {e}");
                }
                let failures = self.failures_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
                // A demoted primary still answers reads, so failures may
                // never come three in a row: a refused write is enough.
                if failures >= FAILURES_BEFORE_RECONNECT || matches!(e, StateError::ReadOnly) {
                    self.reconnect();
                }
            }
            Ok(_) => {
                self.failures_in_a_row.store(0, Ordering::Relaxed);
                if !was {
                    tracing::info!(target: "audit", feature, "shared state reachable again");
                }
            }
        }
        result
    }

    /// Replace the connections with fresh (lazy) ones; with Sentinel,
    /// forget the primary so the next call asks for it again.
    fn reconnect(&self) {
        self.failures_in_a_row.store(0, Ordering::Relaxed);
        let Some(client) = self.locator.fixed() else {
            self.primary.store(None);
            return;
        };
        match Primary::connect(client.clone(), &self.manager_config, self.pool_size) {
            Ok(primary) => self.primary.store(Some(Arc::new(primary))),
            Err(e) => tracing::warn!("cannot make new Redis connections: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_write_on_a_replica_is_told_apart() {
        let demoted = redis::RedisError::from((
            redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly),
            "You can't write against a read only replica.",
        ));
        assert!(matches!(StateError::from(demoted), StateError::ReadOnly));
        let refused = redis::RedisError::from((redis::ErrorKind::Io, "connection refused"));
        assert!(matches!(
            StateError::from(refused),
            StateError::Unavailable(_)
        ));
    }
}
