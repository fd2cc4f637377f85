//! Which Redis server takes the calls: the one `url` names, or the primary
//! Redis Sentinel names (`[state.sentinel]`). With Sentinel the primary is
//! asked for at the first call and again whenever calls to the one known
//! have failed, so a failover reaches every instance without a restart.

use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};

use super::StateError;
use crate::config::{SentinelConfig, StateConfig};

/// After a failed lookup, calls within this long fail at once instead of
/// asking the sentinels again: a failover takes seconds, and a busy
/// gateway must not turn each request into a lookup.
const LOOKUP_BACKOFF: Duration = Duration::from_millis(250);

/// The server in use, with the connections the request path shares.
pub struct Primary {
    /// Opens blocking connections (pub/sub, admin calls).
    pub client: redis::Client,
    /// Multiplexed connections, used in turn.
    pub connections: Vec<ConnectionManager>,
}

impl Primary {
    /// `pool_size` lazy connections to `client`'s server.
    pub fn connect(
        client: redis::Client,
        config: &ConnectionManagerConfig,
        pool_size: usize,
    ) -> Result<Self, StateError> {
        let connections = (0..pool_size.max(1))
            .map(|_| ConnectionManager::new_lazy_with_config(client.clone(), config.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            client,
            connections,
        })
    }
}

/// How the primary is found.
pub enum Locator {
    /// Always the server `url` names.
    Fixed(Box<redis::Client>),
    /// Whatever server the sentinels call the primary now.
    Sentinel(Box<tokio::sync::Mutex<Lookup>>),
}

/// One lookup at a time, and the last one's outcome.
pub struct Lookup {
    sentinel: SentinelClient,
    found: Option<(Instant, redis::Client)>,
    failed_at: Option<Instant>,
}

impl Locator {
    /// The locator `config` describes (`url` or `[state.sentinel]`).
    pub fn new(config: &StateConfig) -> Result<Self, StateError> {
        let root_cert = match &config.tls_ca {
            None => None,
            Some(ca) => Some(std::fs::read(ca).map_err(|e| {
                StateError::Unavailable(format!("cannot read {}: {e}", ca.display()))
            })?),
        };
        if let Some(sentinel) = &config.sentinel {
            return Ok(Locator::Sentinel(Box::new(tokio::sync::Mutex::new(
                Lookup {
                    sentinel: sentinel_client(sentinel, config, root_cert)?,
                    found: None,
                    failed_at: None,
                },
            ))));
        }
        let url = config
            .url
            .as_deref()
            .ok_or_else(|| StateError::Unavailable("no url".into()))?;
        let mut info = redis::IntoConnectionInfo::into_connection_info(url)?;
        let mut settings = info.redis_settings().clone();
        if let Some(password) = &config.password {
            settings = settings.set_password(password);
        }
        if let Some(username) = &config.username {
            settings = settings.set_username(username);
        }
        if let Some(database) = config.database {
            settings = settings.set_db(i64::from(database));
        }
        info = info.set_redis_settings(settings);
        let client = match root_cert {
            None => redis::Client::open(info)?,
            Some(root_cert) => redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                },
            )?,
        };
        Ok(Locator::Fixed(Box::new(client)))
    }

    /// The fixed server, if there is one (known without asking anyone).
    pub fn fixed(&self) -> Option<&redis::Client> {
        match self {
            Locator::Fixed(client) => Some(client),
            Locator::Sentinel(_) => None,
        }
    }

    /// Ask the sentinels for the primary (which they then confirm holds
    /// that role), within `timeout`. Callers that waited while another
    /// asked get its answer.
    pub async fn locate(&self, timeout: Duration) -> Result<redis::Client, StateError> {
        let lookup = match self {
            Locator::Fixed(client) => return Ok(redis::Client::clone(client)),
            Locator::Sentinel(lookup) => lookup,
        };
        let asked_at = Instant::now();
        let mut lookup = lookup.lock().await;
        if let Some((at, client)) = &lookup.found
            && *at >= asked_at
        {
            return Ok(client.clone());
        }
        // A lookup that failed while this caller waited, or just before,
        // answers it too: callers must not ask the sentinels one after
        // another.
        if lookup
            .failed_at
            .is_some_and(|at| at >= asked_at || at.elapsed() < LOOKUP_BACKOFF)
        {
            return Err(StateError::Unavailable(
                "no primary: the sentinels did not name one".into(),
            ));
        }
        let found = tokio::time::timeout(timeout, lookup.sentinel.async_get_client())
            .await
            .map_err(|_| StateError::Unavailable("the sentinels did not answer in time".into()))
            .and_then(|r| r.map_err(StateError::from));
        lookup.failed_at = found.is_err().then(Instant::now);
        if let Ok(client) = &found {
            lookup.found = Some((Instant::now(), client.clone()));
        }
        found
    }
}

/// A Sentinel client whose primary connections carry `[state]`'s user,
/// password and database and, when the sentinels speak TLS, TLS verified
/// against `root_cert` (or the system's roots).
fn sentinel_client(
    config: &SentinelConfig,
    state: &StateConfig,
    root_cert: Option<Vec<u8>>,
) -> Result<SentinelClient, StateError> {
    let mut addresses = Vec::with_capacity(config.addresses.len());
    let mut tls = false;
    for address in &config.addresses {
        let info = redis::IntoConnectionInfo::into_connection_info(address.as_str())?;
        tls = matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. });
        addresses.push(info.addr().clone());
    }
    let mut builder =
        SentinelClientBuilder::new(addresses, &config.master, SentinelServerType::Master)?;
    if let Some(password) = &state.password {
        builder = builder.set_client_to_redis_password(password);
    }
    if let Some(username) = &state.username {
        builder = builder.set_client_to_redis_username(username);
    }
    if let Some(database) = state.database {
        builder = builder.set_client_to_redis_db(i64::from(database));
    }
    if let Some(password) = &config.password {
        builder = builder.set_client_to_sentinel_password(password);
    }
    if let Some(username) = &config.username {
        builder = builder.set_client_to_sentinel_username(username);
    }
    if tls {
        builder = builder.set_client_to_redis_tls_mode(redis::TlsMode::Secure);
        if let Some(root_cert) = root_cert {
            let certificates = || redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(root_cert.clone()),
            };
            builder = builder
                .set_client_to_redis_certificates(certificates())
                .set_client_to_sentinel_certificates(certificates());
        }
    }
    Ok(builder.build()?)
}
