//! Threat detection, native and bounded in memory (`[threats]`):
//!
//! - `auth_failures`: many 401 answers to one client address (an IPv6
//!   client by its /64; brute force, password spraying);
//! - `account_failures`: many 401s for one account, from any address
//!   (credential stuffing), the account read from a header, a query
//!   parameter or HTTP Basic;
//! - `not_found`: many 404s to one client (enumeration);
//! - `waf_hits`: repeated WAF blocks of one client;
//! - `rate_anomaly`: a consumer far above its own moving baseline.
//!
//! A detection is an audit event and a metric; in `block` mode it also
//! puts the client, account or consumer on a temporary block list, whose
//! requests get `block_status` (429 or 403) until it expires or an
//! operator lifts it. The counters and the list outlive configuration
//! reloads; the settings are the configuration's.

pub mod blocklist;
pub mod rate;
pub mod window;

use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use blocklist::BlockList;
use rate::Rates;
use window::{Counted, Windows};

use crate::config::{ThreatMode, ThreatsConfig};

/// State that lives as long as the process.
pub struct ThreatState {
    /// Blocked clients, accounts and consumers.
    pub blocks: BlockList,
    /// With `[state] backend = "redis"`: where blocks and lifts are
    /// announced to the other instances.
    shared: OnceLock<Arc<crate::state::blocks::SharedBlocks>>,
    auth_failures: Mutex<Windows>,
    account_failures: Mutex<Windows>,
    not_found: Mutex<Windows>,
    waf_hits: Mutex<Windows>,
    rates: Mutex<Rates>,
}

/// The process's threat state (sized by the first configuration).
pub fn state(max_tracked: usize) -> &'static ThreatState {
    static STATE: OnceLock<ThreatState> = OnceLock::new();
    STATE.get_or_init(|| ThreatState {
        blocks: BlockList::default(),
        shared: OnceLock::new(),
        auth_failures: Mutex::new(Windows::new(max_tracked)),
        account_failures: Mutex::new(Windows::new(max_tracked)),
        not_found: Mutex::new(Windows::new(max_tracked)),
        waf_hits: Mutex::new(Windows::new(max_tracked)),
        rates: Mutex::new(Rates::new(max_tracked)),
    })
}

impl ThreatState {
    /// Share blocks through Redis: announce this process's, and follow
    /// the others' (once per process).
    pub fn share(
        &'static self,
        shared: Arc<crate::state::blocks::SharedBlocks>,
    ) -> std::io::Result<()> {
        if self.shared.set(shared.clone()).is_ok() {
            shared.follow(&self.blocks)?;
        }
        Ok(())
    }
}

/// Where the account a request is for comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSource {
    /// A request header.
    Header(http::HeaderName),
    /// A query parameter.
    Query(String),
    /// The user name of HTTP Basic credentials.
    Basic,
}

impl AccountSource {
    /// `header:NAME`, `query:NAME` or `basic`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            Some(("header", name)) => http::HeaderName::from_bytes(name.as_bytes())
                .map(AccountSource::Header)
                .map_err(|_| format!("{name:?} is not a header name")),
            Some(("query", name)) if !name.is_empty() => Ok(AccountSource::Query(name.into())),
            None if text == "basic" => Ok(AccountSource::Basic),
            _ => Err(format!("{text:?}: give header:NAME, query:NAME or basic")),
        }
    }

    /// The account named by a request, if any (at most 256 bytes).
    pub fn account(&self, headers: &http::HeaderMap, query: Option<&str>) -> Option<String> {
        let value = match self {
            AccountSource::Header(name) => headers.get(name)?.to_str().ok()?.to_string(),
            AccountSource::Query(name) => query?.split('&').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                (crate::percent::decode_query(key) == *name)
                    .then(|| crate::percent::decode_query(value))
            })?,
            AccountSource::Basic => {
                use base64::Engine as _;
                let credentials = headers
                    .get(http::header::AUTHORIZATION)?
                    .to_str()
                    .ok()?
                    .strip_prefix("Basic ")?;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(credentials.trim())
                    .ok()?;
                let decoded = String::from_utf8(decoded).ok()?;
                decoded.split_once(':')?.0.to_string()
            }
        };
        let value = value.trim().to_ascii_lowercase();
        (!value.is_empty() && value.len() <= 256).then_some(value)
    }
}

/// The settings of one configuration.
pub struct Threats {
    config: ThreatsConfig,
    account: Option<AccountSource>,
    state: &'static ThreatState,
}

/// A refused request: the status and how long until the block ends.
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    /// 429 or 403.
    pub status: u16,
    /// Time left on the block.
    pub retry_after: Duration,
}

/// What a finished request showed.
pub struct Outcome<'a> {
    /// The resolved client address.
    pub client: IpAddr,
    /// The account it named, if the detector reads one.
    pub account: Option<&'a str>,
    /// Its status.
    pub status: u16,
    /// Whether the WAF blocked it.
    pub waf_blocked: bool,
}

/// The block-list key of a client: its IPv4 address, or its IPv6 /64
/// (one host can hold a whole /64).
pub fn client_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Threats {
    /// From a checked config.
    pub fn new(config: &ThreatsConfig) -> Result<Self, String> {
        let account = config
            .account_failures
            .as_ref()
            .map(|a| AccountSource::parse(&a.account))
            .transpose()?;
        Ok(Self {
            config: config.clone(),
            account,
            state: state(config.max_tracked),
        })
    }

    /// The process's block list.
    pub fn blocks(&self) -> &BlockList {
        &self.state.blocks
    }

    /// The account a request names, for the account detector.
    pub fn account(&self, headers: &http::HeaderMap, query: Option<&str>) -> Option<String> {
        self.account.as_ref()?.account(headers, query)
    }

    fn refused(&self, key: &str) -> Result<(), Refusal> {
        match self.state.blocks.blocked(key) {
            Some(retry_after) => Err(Refusal {
                status: self.config.block_status,
                retry_after,
            }),
            None => Ok(()),
        }
    }

    /// Refuse a blocked client or account, before any plugin runs.
    pub fn check_client(&self, client: IpAddr, account: Option<&str>) -> Result<(), Refusal> {
        if self.state.blocks.is_empty() {
            return Ok(());
        }
        self.refused(&client_key(client))?;
        match account {
            Some(account) => self.refused(&format!("account:{account}")),
            None => Ok(()),
        }
    }

    /// Count an authenticated consumer's request; refuse a blocked one.
    pub fn check_consumer(&self, consumer: &str) -> Result<(), Refusal> {
        let key = format!("consumer:{consumer}");
        self.refused(&key)?;
        let Some(anomaly) = &self.config.rate_anomaly else {
            return Ok(());
        };
        let bucket = unix_now() / anomaly.window_seconds.max(1);
        let found = self.state.rates.lock().ok().and_then(|mut rates| {
            rates.count(consumer, bucket, anomaly.factor, anomaly.min_requests)
        });
        if let Some((count, baseline)) = found {
            self.detected(
                "rate_anomaly",
                &key,
                format!("{count} requests in a window against a baseline of {baseline:.1}"),
            );
        }
        Ok(())
    }

    /// Count what a finished request showed.
    pub fn record(&self, outcome: &Outcome<'_>) {
        // 401 is "who are you?": a failed credential. A 403 (CSRF, CORS,
        // RBAC, geo, the upstream's own) says nothing about guessing, and
        // an attacker could cause them on purpose to lock others out.
        let failed = outcome.status == 401;
        if !failed && outcome.status != 404 && !outcome.waf_blocked {
            return;
        }
        let ip = client_key(outcome.client);
        let now = unix_now();
        let detectors = [
            (
                "auth_failures",
                &self.config.auth_failures,
                &self.state.auth_failures,
                failed,
            ),
            (
                "not_found",
                &self.config.not_found,
                &self.state.not_found,
                outcome.status == 404,
            ),
            (
                "waf_hits",
                &self.config.waf_hits,
                &self.state.waf_hits,
                outcome.waf_blocked,
            ),
        ];
        for (name, settings, windows, hit) in detectors {
            if let (Some(settings), true) = (settings, hit) {
                self.count(
                    name,
                    windows,
                    &ip,
                    now,
                    settings.limit,
                    settings.window_seconds,
                );
            }
        }
        if let (Some(settings), Some(account), true) =
            (&self.config.account_failures, outcome.account, failed)
        {
            let key = format!("account:{account}");
            self.count(
                "account_failures",
                &self.state.account_failures,
                &key,
                now,
                settings.limit,
                settings.window_seconds,
            );
        }
    }

    fn count(
        &self,
        detector: &'static str,
        windows: &Mutex<Windows>,
        key: &str,
        now: u64,
        limit: u32,
        window: u64,
    ) {
        let counted = windows
            .lock()
            .map_or(Counted::Untracked, |mut w| w.count(key, now, window, limit));
        match counted {
            // Reported as the count reaches the limit, not at every event past it.
            Counted::Reached(count) => {
                self.detected(detector, key, format!("{count} in {window} s"));
            }
            Counted::Untracked => {
                crate::telemetry::get()
                    .metrics
                    .threats
                    .get_or_create(&vec![
                        ("detector", detector.to_string()),
                        ("action", "untracked".into()),
                    ])
                    .inc();
            }
            Counted::Count(_) => {}
        }
    }

    fn detected(&self, detector: &'static str, key: &str, reason: String) {
        let block = self.config.mode == ThreatMode::Block;
        let action = if block { "blocked" } else { "detected" };
        let ttl = Duration::from_secs(self.config.block_seconds);
        if block && !self.state.blocks.block(key, detector, reason.clone(), ttl) {
            // Already blocked: a detection in flight as the block began.
            return;
        }
        if block && let Some(shared) = self.state.shared.get() {
            shared.announce(key, &format!("{detector}: {reason}"), Some(ttl));
        }
        crate::telemetry::get()
            .metrics
            .threats
            .get_or_create(&vec![
                ("detector", detector.to_string()),
                ("action", action.into()),
            ])
            .inc();
        tracing::warn!(
            target: "audit",
            detector,
            key,
            reason,
            action,
            block_seconds = if block { self.config.block_seconds } else { 0 },
            "threat detected"
        );
    }

    /// Lift a block (and its counts start afresh).
    pub fn lift(&self, key: &str) -> bool {
        let lifted = self.state.blocks.lift(key);
        if let Some(shared) = self.state.shared.get() {
            shared.announce(key, "", None);
        }
        for windows in [
            &self.state.auth_failures,
            &self.state.account_failures,
            &self.state.not_found,
            &self.state.waf_hits,
        ] {
            if let Ok(mut windows) = windows.lock() {
                windows.forget(key);
            }
        }
        lifted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_come_from_headers_queries_and_basic() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-user", "Alice".parse().expect("value"));
        headers.insert(
            http::header::AUTHORIZATION,
            "Basic Ym9iOnNlY3JldA==".parse().expect("value"),
        );
        let header = AccountSource::parse("header:x-user").expect("parse");
        assert_eq!(header.account(&headers, None).as_deref(), Some("alice"));
        let query = AccountSource::parse("query:username").expect("parse");
        assert_eq!(
            query
                .account(&headers, Some("a=1&username=carol"))
                .as_deref(),
            Some("carol")
        );
        let basic = AccountSource::parse("basic").expect("parse");
        assert_eq!(basic.account(&headers, None).as_deref(), Some("bob"));
        assert!(AccountSource::parse("cookie:x").is_err());
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
        assert_eq!(client_key(a), client_key(b));
        assert_eq!(
            client_key("::ffff:10.0.0.1".parse().expect("ip")),
            "ip:10.0.0.1"
        );
    }
}
