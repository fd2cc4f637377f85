//! Lambda-style custom authorizers (`role = "authorizer"`): the host takes
//! the identity sources from the request, refuses with 401 when one is
//! missing (the authorizer is not called), and caches the authorizer's
//! decisions keyed by a digest of those sources, as AWS API Gateway does.
//! An authorizer whose decision depends on the method and path says so
//! (see [`RESOURCE_SPECIFIC_ENTRY`]); its decisions are then cached per
//! route, host, method, path and query too, so an allow for one resource
//! is never replayed for another (the trap of AWS's identity-only cache
//! key), and identity-wide decisions for it are no longer replayed. A
//! denial with `Cache-Control: no-store` is not cached.

mod cache;
mod identity;
mod stored;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::bindings::{Decision, Denial, Edit};
use super::view::RequestView;
use crate::config::{AuthorizerConfig, AuthorizerKind};
use crate::context::RequestContext;
use crate::state::decisions::SharedDecisions;
use cache::{Cached, DecisionCache, Key};
use identity::Source;

/// A context entry an allowing authorizer sets to `"true"` to say its
/// decision holds only for this method and path. The host removes it.
pub const RESOURCE_SPECIFIC_ENTRY: &str = "portcullis.resource-specific";
/// The same, as a header on a denial. The host removes it.
pub const RESOURCE_SPECIFIC_HEADER: &str = "portcullis-resource-specific";

/// Longest a decision may be cached, as on AWS.
const MAX_TTL_S: u64 = 3600;

/// One authorizer's identity sources and decision caches.
pub struct Authorizer {
    sources: Vec<Source>,
    validation: Option<regex::Regex>,
    allows: DecisionCache<Decision>,
    denials: DecisionCache<Decision>,
    context_headers: Vec<(String, String)>,
    /// With `[state] backend = "redis"`: decisions shared by every
    /// instance, asked on a local miss.
    shared: Option<Arc<SharedDecisions>>,
}

/// What the host does before calling the authorizer.
pub enum Gate {
    /// Refuse without a call: an identity source is missing or malformed.
    Refuse(Denial),
    /// A cached decision.
    Known(Decision),
    /// Call the authorizer, then [`Authorizer::settle`] its decision.
    Ask(Pending),
}

/// The cache keys of a request the authorizer is being asked about.
pub struct Pending {
    identity: Key,
    resource: Key,
}

impl Authorizer {
    /// Compile a validated config; the error names the field.
    pub fn new(config: &AuthorizerConfig) -> Result<Self, (&'static str, String)> {
        let sources = config
            .identity_sources
            .iter()
            .map(|text| text.parse::<Source>())
            .collect::<Result<Vec<_>, String>>()
            .map_err(|e| ("identity_sources", e))?;
        if sources.is_empty() {
            return Err(("identity_sources", "give at least one".into()));
        }
        let single_header = matches!(sources.as_slice(), [Source::Header(_)]);
        if config.kind == AuthorizerKind::Token && !single_header {
            return Err((
                "identity_sources",
                "type = \"token\" takes exactly one source, a header (e.g. \"header:authorization\")"
                    .into(),
            ));
        }
        let validation = match (&config.validation_regex, config.kind) {
            (None, _) => None,
            (Some(pattern), AuthorizerKind::Token) => Some(
                regex::Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|e| ("validation_regex", e.to_string()))?,
            ),
            (Some(_), AuthorizerKind::Request) => {
                return Err(("validation_regex", "only for type = \"token\"".into()));
            }
        };
        let negative_ttl_s = config.negative_ttl_s.unwrap_or(config.ttl_s);
        if config.ttl_s > MAX_TTL_S {
            return Err(("ttl_s", format!("at most {MAX_TTL_S}")));
        }
        if negative_ttl_s > MAX_TTL_S {
            return Err(("negative_ttl_s", format!("at most {MAX_TTL_S}")));
        }
        let mut context_headers = Vec::new();
        for (entry, header) in &config.context_headers {
            if http::HeaderName::from_lowercase(header.as_bytes()).is_err() {
                return Err((
                    "context_headers",
                    format!("{header:?} is not a lower-case header name"),
                ));
            }
            context_headers.push((entry.clone(), header.clone()));
        }
        let cache = |ttl_s: u64| DecisionCache::new(Duration::from_secs(ttl_s), config.max_entries);
        Ok(Self {
            sources,
            validation,
            allows: cache(config.ttl_s),
            denials: cache(negative_ttl_s),
            context_headers,
            shared: None,
        })
    }

    /// Share decisions through `shared`.
    pub fn with_shared(mut self, shared: SharedDecisions) -> Self {
        self.shared = Some(Arc::new(shared));
        self
    }

    /// On a local miss: the decision another instance stored for this
    /// request, kept locally too; `None` means ask the authorizer.
    pub async fn recall(&self, pending: &Pending) -> Option<Decision> {
        let shared = self.shared.as_ref()?;
        let now = Instant::now();
        // The Redis calls are boxed: inline, their large futures would size
        // every chain call's future, shared decisions or not.
        let decision = match stored::decode(&Box::pin(shared.get(&pending.identity)).await?)? {
            Cached::Decision(decision) => {
                self.cache_of(&decision)?.insert(
                    pending.identity,
                    Cached::Decision(decision.clone()),
                    now,
                );
                decision
            }
            Cached::PerResource => {
                let Cached::Decision(decision) =
                    stored::decode(&Box::pin(shared.get(&pending.resource)).await?)?
                else {
                    return None;
                };
                let cache = self.cache_of(&decision)?;
                cache.insert(pending.identity, Cached::PerResource, now);
                cache.insert(pending.resource, Cached::Decision(decision.clone()), now);
                decision
            }
        };
        Some(decision)
    }

    /// The cache a decision belongs in; `None` for one never cached.
    fn cache_of(&self, decision: &Decision) -> Option<&DecisionCache<Decision>> {
        match decision {
            Decision::Continue(_) => Some(&self.allows),
            // `Cache-Control: no-store` on a denial (an authorizer that
            // could not reach its backend) keeps it out of the cache.
            Decision::Deny(denial)
                if matches!(denial.status, 401 | 403) && !forbids_storing(denial) =>
            {
                Some(&self.denials)
            }
            Decision::Deny(_) => None,
        }
    }

    /// Check the identity sources and look for a cached decision.
    pub fn gate(&self, request: &RequestView, context: &RequestContext) -> Gate {
        let mut digest = Sha256::new();
        for source in &self.sources {
            let value = match source.value(request, context) {
                Ok(Some(value)) if !value.is_empty() => value,
                Ok(_) => return Gate::Refuse(unauthorized("identity-source-missing")),
                Err(()) => return Gate::Refuse(unauthorized("identity-source-repeated")),
            };
            if let Some(pattern) = &self.validation
                && !std::str::from_utf8(&value).is_ok_and(|text| pattern.is_match(text))
            {
                return Gate::Refuse(unauthorized("identity-source-invalid"));
            }
            update_framed(&mut digest, &value);
        }
        let identity: Key = digest.finalize().into();
        let now = Instant::now();
        let mut per_resource = false;
        let mut identity_wide = None;
        for cache in [&self.allows, &self.denials] {
            match cache.get(&identity, now) {
                Some(Cached::Decision(decision)) => {
                    identity_wide = identity_wide.or(Some(decision))
                }
                Some(Cached::PerResource) => per_resource = true,
                None => {}
            }
        }
        // Once the authorizer has said decisions for this identity depend on
        // the resource, an identity-wide one is never replayed.
        if !per_resource && let Some(decision) = identity_wide {
            return Gate::Known(decision);
        }
        let resource = resource_key(&identity, request);
        if per_resource {
            for cache in [&self.allows, &self.denials] {
                if let Some(Cached::Decision(decision)) = cache.get(&resource, now) {
                    return Gate::Known(decision);
                }
            }
        }
        Gate::Ask(Pending { identity, resource })
    }

    /// Take the authorizer's `decision`: remove the resource-specific
    /// marker, add the context headers, cache it (allows and 401/403
    /// denials; anything else is not a decision about the identity) and
    /// return it.
    pub fn settle(&self, pending: Pending, decision: Decision) -> Decision {
        let (decision, resource_specific) = self.finish(decision);
        let Some(cache) = self.cache_of(&decision) else {
            return decision;
        };
        let now = Instant::now();
        let entries = if resource_specific {
            vec![
                (pending.identity, Cached::PerResource),
                (pending.resource, Cached::Decision(decision.clone())),
            ]
        } else {
            vec![(pending.identity, Cached::Decision(decision.clone()))]
        };
        if let Some(shared) = &self.shared {
            let stored = entries
                .iter()
                .map(|(key, value)| (*key, stored::encode(value)))
                .collect();
            shared.put(stored, cache.ttl());
        }
        for (key, value) in entries {
            cache.insert(key, value, now);
        }
        decision
    }

    /// Remove the headers this authorizer's context entries would set, for
    /// a request it did not decide (it failed and `on_error = "allow"`
    /// skipped it): a client must not pass its own values through.
    pub fn strip_context_headers(&self, headers: &mut http::HeaderMap) {
        for (_, header) in &self.context_headers {
            headers.remove(header.as_str());
        }
    }

    /// The decision as the chain applies it, and whether it is resource-specific.
    fn finish(&self, decision: Decision) -> (Decision, bool) {
        match decision {
            Decision::Continue(edits) => {
                let mut resource_specific = false;
                let mut kept = Vec::with_capacity(edits.len() + self.context_headers.len());
                for edit in edits {
                    match edit {
                        Edit::SetEntry((key, value)) if key == RESOURCE_SPECIFIC_ENTRY => {
                            resource_specific = value == "true";
                        }
                        other => kept.push(other),
                    }
                }
                for (entry, header) in &self.context_headers {
                    let value = kept.iter().rev().find_map(|edit| match edit {
                        Edit::SetEntry((key, value)) if key == entry => Some(value.clone()),
                        _ => None,
                    });
                    // Always set or removed, so a client cannot send its own.
                    kept.push(match value {
                        Some(value) => Edit::SetHeader((header.clone(), value)),
                        None => Edit::RemoveHeader(header.clone()),
                    });
                }
                (Decision::Continue(kept), resource_specific)
            }
            Decision::Deny(mut denial) => {
                let before = denial.headers.len();
                denial
                    .headers
                    .retain(|(name, _)| !name.eq_ignore_ascii_case(RESOURCE_SPECIFIC_HEADER));
                let resource_specific = denial.headers.len() != before;
                (Decision::Deny(denial), resource_specific)
            }
        }
    }
}

/// The key of `request`'s resource for `identity`: route, host, method,
/// path and query, so a decision about one never answers another. Only
/// computed when a resource-specific decision may be involved.
fn resource_key(identity: &Key, request: &RequestView) -> Key {
    let mut digest = Sha256::new();
    digest.update(identity);
    for part in [
        request.route_id.as_bytes(),
        request.authority.as_bytes(),
        request.method.as_str().as_bytes(),
        request.path.as_bytes(),
        request.query.as_deref().unwrap_or("\0").as_bytes(),
    ] {
        update_framed(&mut digest, part);
    }
    digest.finalize().into()
}

/// Hash `bytes` length-prefixed, so ("ab", "c") and ("a", "bc") differ.
fn update_framed(digest: &mut Sha256, bytes: &[u8]) {
    digest.update((bytes.len() as u64).to_be_bytes());
    digest.update(bytes);
}

/// Whether a denial says `Cache-Control: no-store`.
fn forbids_storing(denial: &Denial) -> bool {
    denial.headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("cache-control")
            && value
                .split(',')
                .any(|directive| directive.trim().eq_ignore_ascii_case("no-store"))
    })
}

/// 401 with a small JSON body, as AWS answers a request without its
/// identity sources.
fn unauthorized(reason: &str) -> Denial {
    Denial {
        status: 401,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"error":"unauthorized"}"#.to_vec(),
        reason: reason.into(),
    }
}
