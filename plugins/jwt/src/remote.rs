//! Keys fetched from the issuer: a JWKS URL, or the `jwks_uri` of its OIDC
//! discovery document. Fetched through the host's `outbound-http` (only to
//! origins the operator allowed), cached for `jwks_cache_s`, shared between
//! the plugin's instances through the `kv` store, and fetched again early
//! when a token names a `kid` the cached set lacks, at most once per
//! `jwks_min_refresh_s` so forged `kid`s cannot hammer the issuer. The
//! bound counts early fetches only: the first unknown `kid` after a
//! regular fetch (the issuer rotated) is fetched at once. A set that is
//! missing or expired is fetched again at most once per
//! `jwks_min_refresh_s` too, so an issuer that is down is not hammered.

use std::sync::{Arc, Mutex};

use portcullis_sdk::host;
use serde_json::Value;

use crate::keys::{Key, parse_jwks};

/// How long one fetch may take.
const FETCH_TIMEOUT_MS: u32 = 3000;

/// Where the key set is found.
#[derive(Debug, Clone)]
pub enum Location {
    /// A JWKS URL.
    Jwks(String),
    /// The issuer's discovery document names it.
    Discovery {
        /// The configured issuer, which the document must repeat.
        issuer: String,
    },
}

/// Timing of fetches, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// A fetched set is used this long before it is fetched again.
    pub cache_ms: u64,
    /// Least time between two fetches.
    pub min_refresh_ms: u64,
    /// How long past `cache_ms` the last good keys are still used while
    /// fetches fail; after that no key is trusted until a fetch succeeds.
    pub max_stale_ms: u64,
}

/// An issuer's remote key set.
pub struct RemoteKeys {
    location: Location,
    timing: Timing,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    keys: Arc<Vec<Key>>,
    /// When the keys in use were fetched (by any instance).
    fetched_ms: u64,
    /// When this instance last tried to fetch.
    attempted_ms: Option<u64>,
    /// When this instance last fetched early, for an unknown `kid`.
    refreshed_ms: Option<u64>,
    /// The discovered JWKS URL.
    jwks_url: Option<String>,
}

impl RemoteKeys {
    /// A key set not fetched yet.
    pub fn new(location: Location, timing: Timing) -> Self {
        Self {
            location,
            timing,
            state: Mutex::new(State::default()),
        }
    }

    /// The keys to check a token with `kid` at `now_ms`: the cached set if
    /// fresh and it knows `kid`, else a fetched one when allowed; the last
    /// good set when a fetch fails.
    pub fn keys(&self, kid: Option<&str>, now_ms: u64) -> Arc<Vec<Key>> {
        let keys = self.current(kid, now_ms);
        let state = self.lock();
        let age = now_ms.saturating_sub(state.fetched_ms);
        if state.fetched_ms == 0
            || age
                > self
                    .timing
                    .cache_ms
                    .saturating_add(self.timing.max_stale_ms)
        {
            // Fail closed: keys the issuer may have withdrawn long ago.
            return Arc::new(Vec::new());
        }
        keys
    }

    /// The cached or freshly fetched keys, however old.
    fn current(&self, kid: Option<&str>, now_ms: u64) -> Arc<Vec<Key>> {
        let mut state = self.lock();
        if self.satisfies(&state, kid, now_ms) {
            return state.keys.clone();
        }
        // Another instance may have fetched already.
        if let Some((fetched_ms, keys)) = self.shared()
            && fetched_ms > state.fetched_ms
        {
            state.keys = Arc::new(keys);
            state.fetched_ms = fetched_ms;
            if self.satisfies(&state, kid, now_ms) {
                return state.keys.clone();
            }
        }
        // Early (the set is fresh but lacks the kid): bounded by the last
        // early fetch of any instance. Regular (missing or expired):
        // bounded by the last attempt of any kind, so a failing issuer is
        // retried at that pace.
        let fresh =
            state.fetched_ms > 0 && now_ms.saturating_sub(state.fetched_ms) < self.timing.cache_ms;
        let (mine, shared_key) = if fresh {
            (state.refreshed_ms, self.refresh_key())
        } else {
            (state.attempted_ms, self.attempt_key())
        };
        let last = match (mine, self.shared_stamp(&shared_key)) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if last.is_some_and(|last| now_ms.saturating_sub(last) < self.timing.min_refresh_ms) {
            return state.keys.clone();
        }
        state.attempted_ms = Some(now_ms);
        let _ = host::kv_set(&self.attempt_key(), &now_ms.to_be_bytes(), 0);
        if fresh {
            state.refreshed_ms = Some(now_ms);
            let _ = host::kv_set(&self.refresh_key(), &now_ms.to_be_bytes(), 0);
        }
        match self.fetch(&mut state) {
            Ok((body, keys)) => {
                state.keys = Arc::new(keys);
                state.fetched_ms = now_ms;
                let mut record = now_ms.to_be_bytes().to_vec();
                record.extend_from_slice(body.as_bytes());
                let _ = host::kv_set(&self.set_key(), &record, self.timing.cache_ms);
            }
            Err(reason) => host::log_warn(&format!("jwks: {reason}; keeping the last good keys")),
        }
        state.keys.clone()
    }

    /// Whether the cached set is fresh and knows `kid`.
    fn satisfies(&self, state: &State, kid: Option<&str>, now_ms: u64) -> bool {
        let fresh =
            state.fetched_ms > 0 && now_ms.saturating_sub(state.fetched_ms) < self.timing.cache_ms;
        let known = kid.is_none_or(|kid| state.keys.iter().any(|k| k.kid.as_deref() == Some(kid)));
        fresh && known
    }

    /// The set another instance stored, with when it was fetched.
    fn shared(&self) -> Option<(u64, Vec<Key>)> {
        let record = host::kv_get(&self.set_key()).ok()??;
        let (stamp, body) = record.split_at_checked(8)?;
        let fetched_ms = u64::from_be_bytes(stamp.try_into().ok()?);
        let body = std::str::from_utf8(body).ok()?;
        let keys = parse_jwks(&Value::String(body.to_string())).ok()?;
        Some((fetched_ms, keys))
    }

    /// A time any instance stored under `key` (an attempt or an early
    /// fetch).
    fn shared_stamp(&self, key: &str) -> Option<u64> {
        host::kv_get(key)
            .ok()
            .flatten()
            .and_then(|bytes| bytes.try_into().ok())
            .map(u64::from_be_bytes)
    }

    /// Fetch the set: its JSON text and its usable keys.
    fn fetch(&self, state: &mut State) -> Result<(String, Vec<Key>), String> {
        let url = match (&self.location, &state.jwks_url) {
            (Location::Jwks(url), _) => url.clone(),
            (Location::Discovery { .. }, Some(url)) => url.clone(),
            (Location::Discovery { issuer }, None) => {
                let url = discover(issuer)?;
                state.jwks_url = Some(url.clone());
                url
            }
        };
        let body = get_json(&url)?;
        let keys = parse_jwks(&Value::String(body.clone())).map_err(|e| format!("{url}: {e}"))?;
        if keys.is_empty() {
            return Err(format!("{url}: no usable signing key"));
        }
        Ok((body, keys))
    }

    fn set_key(&self) -> String {
        format!("jwks:{}", self.name())
    }

    fn attempt_key(&self) -> String {
        format!("jwks-attempt:{}", self.name())
    }

    fn refresh_key(&self) -> String {
        format!("jwks-refresh:{}", self.name())
    }

    /// The kv name of this set; the kind is part of it, so a JWKS URL and
    /// an issuer discovered by name never share an entry.
    fn name(&self) -> String {
        match &self.location {
            Location::Jwks(url) => format!("url:{url}"),
            Location::Discovery { issuer } => format!("discovery:{issuer}"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is replaced whole; a poisoned lock holds a usable one.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `jwks_uri` of `issuer`'s OpenID Connect discovery document, which
/// must name the same issuer (OpenID Connect Discovery 1.0, section 4.3).
fn discover(issuer: &str) -> Result<String, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let body = get_json(&url)?;
    let document: Value = serde_json::from_str(&body).map_err(|e| format!("{url}: {e}"))?;
    if document.get("issuer").and_then(Value::as_str) != Some(issuer) {
        return Err(format!("{url}: `issuer` is not {issuer:?}"));
    }
    document
        .get("jwks_uri")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("{url}: no `jwks_uri`"))
}

/// GET a JSON document; its text on a 200.
fn get_json(url: &str) -> Result<String, String> {
    let response = host::http_get(url, "application/json", FETCH_TIMEOUT_MS)
        .map_err(|e| format!("{url}: {e:?}"))?;
    if response.status != 200 {
        return Err(format!("{url}: status {}", response.status));
    }
    String::from_utf8(response.body).map_err(|_| format!("{url}: not UTF-8"))
}
