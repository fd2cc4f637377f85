//! `jwt`: OAuth 2.0 / OIDC bearer tokens. A token is read from a header, a
//! cookie or a query parameter, verified against the keys pinned for its
//! issuer ([`verify`]), its claims checked ([`claims`]), and the principal,
//! scopes, roles and claims written into the request context for later
//! plugins. Refusals follow RFC 6750 ([`challenge`]).

mod cache;
mod challenge;
mod claims;
pub mod host_crypto;
mod introspect;
pub mod keys;
mod remote;
mod settings;
mod token;
pub mod verify;

use std::sync::{Arc, Mutex};

use portcullis_sdk::{Context, Decision, Edit, Phase, Policy, Request, export_policy};
use serde_json::{Map, Value};

use cache::TokenCache;
use challenge::Challenge;
use introspect::{Answer, Introspection};
pub use keys::Issuer;
use settings::{From, Settings};
use token::Found;

/// Largest claim value copied into the request context.
const MAX_CONTEXT_CLAIM_BYTES: usize = 1024;

/// Claims already checked here and of no use to later plugins; left out of
/// the context to keep each request's edits short.
const TIME_CLAIMS: &[&str] = &["exp", "nbf", "iat", "jti"];

/// What a verified token grants on this route.
enum Grant {
    /// Continue with these edits.
    Allow(Vec<Edit>),
    /// Refuse (the token is fine, the route wants more).
    Refuse(Challenge, &'static str),
}

/// A configured `jwt` plugin instance.
pub struct Jwt {
    settings: Settings,
    issuers: Vec<Issuer>,
    introspection: Option<Introspection>,
    cache: Mutex<TokenCache<Grant>>,
}

impl Jwt {
    /// Parse and check settings (JSON).
    pub fn from_json(json: &str) -> Result<Self, String> {
        let settings: Settings = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if settings.issuers.is_empty() && settings.introspection.is_none() {
            return Err("issuers: give at least one, or `introspection`".into());
        }
        let introspection = settings
            .introspection
            .as_ref()
            .map(Introspection::compile)
            .transpose()?;
        let issuers = settings
            .issuers
            .iter()
            .map(Issuer::compile)
            .collect::<Result<Vec<_>, _>>()?;
        for header in settings.forward_claims.values() {
            let valid = !header.is_empty()
                && header
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                return Err(format!(
                    "forward_claims: {header:?} is not a lower-case header name"
                ));
            }
        }
        if settings.token.name.is_empty() {
            return Err("token.name: must not be empty".into());
        }
        Ok(Self {
            cache: Mutex::new(TokenCache::new(settings.cache_size)),
            issuers,
            introspection,
            settings,
        })
    }

    /// Verify `token` at `now` and work out what it grants, and until when
    /// the cache keeps that (Unix seconds: the token's `exp`, or the
    /// introspection answer's end); an `Err` is the refusal.
    fn grant(&self, token: &str, now: u64) -> Result<(Arc<Grant>, u64), Decision> {
        let realm = &self.settings.realm;
        if let Some(known) = self.lock_cache().get(token, now) {
            return Ok(known);
        }
        let (claims, expires) = match &self.introspection {
            Some(introspection) if token.split('.').count() != 3 => {
                self.introspect(introspection, token, now)?
            }
            _ => {
                let claims = verify::verify(
                    token,
                    &self.issuers,
                    self.settings.leeway_s,
                    now,
                    &host_crypto::HostCrypto,
                )
                .map_err(|refusal| {
                    let challenge = match refusal {
                        verify::Refusal::Expired => Challenge::Expired,
                        _ => Challenge::InvalidToken,
                    };
                    challenge.decision(realm, refusal.reason())
                })?;
                let expires = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
                (claims, expires)
            }
        };
        let grant = Arc::new(self.judge(&claims));
        if let Grant::Refuse(Challenge::InvalidToken, reason) = &*grant {
            return Err(Challenge::InvalidToken.decision(realm, reason));
        }
        self.lock_cache().insert(token, expires, grant.clone(), now);
        Ok((grant, expires))
    }

    /// An opaque token's claims from the introspection endpoint, and until
    /// when the answer may be reused.
    fn introspect(
        &self,
        introspection: &Introspection,
        token: &str,
        now: u64,
    ) -> Result<(Map<String, Value>, u64), Decision> {
        match introspection.ask(token) {
            Answer::Active(fields)
                if introspection.accepts(&fields, now, self.settings.leeway_s) =>
            {
                let until = introspection.cache_until(&fields, now);
                Ok((fields, until))
            }
            Answer::Active(_) => {
                Err(self.remember_refusal(token, introspection, now, "claims-rejected"))
            }
            Answer::Inactive => {
                Err(self.remember_refusal(token, introspection, now, "token-inactive"))
            }
            Answer::Unavailable(why) => {
                portcullis_sdk::host::log_warn(&format!("introspection: {why}"));
                Err(Decision::deny_json(
                    503,
                    "introspection-unavailable",
                    "service unavailable",
                ))
            }
        }
    }

    /// Remember, for the introspection cache bound, that `token` is not
    /// valid, so repeating it does not reach the endpoint again; the refusal.
    fn remember_refusal(
        &self,
        token: &str,
        introspection: &Introspection,
        now: u64,
        reason: &'static str,
    ) -> Decision {
        let refusal = Arc::new(Grant::Refuse(Challenge::InvalidToken, reason));
        let until = now.saturating_add(introspection.cache_ttl_s);
        self.lock_cache().insert(token, until, refusal, now);
        Challenge::InvalidToken.decision(&self.settings.realm, reason)
    }

    /// What verified `claims` grant on this route.
    fn judge(&self, claims: &Map<String, Value>) -> Grant {
        let settings = &self.settings;
        if settings
            .required_claims
            .iter()
            .any(|c| !claims.contains_key(c))
        {
            return Grant::Refuse(Challenge::InvalidToken, "required-claim-missing");
        }
        let Some(principal) = claims.get(&settings.principal_claim).map(claims::as_text) else {
            return Grant::Refuse(Challenge::InvalidToken, "no-principal");
        };
        if !claims::matches(claims, &settings.match_claims) {
            return Grant::Refuse(Challenge::Forbidden, "claims-do-not-match");
        }
        let scopes = claims::scopes(claims);
        if !settings.required_scopes.iter().all(|s| scopes.contains(s)) {
            let wanted = settings.required_scopes.join(" ");
            return Grant::Refuse(Challenge::InsufficientScope(wanted), "insufficient-scope");
        }
        let roles = claims::strings_at(claims, &settings.roles_claim);

        let mut edits = vec![Edit::SetPrincipal(principal)];
        if !scopes.is_empty() {
            edits.push(Edit::AddScopes(scopes));
        }
        if !roles.is_empty() {
            edits.push(Edit::AddRoles(roles));
        }
        for (name, value) in claims {
            if TIME_CLAIMS.contains(&name.as_str()) {
                continue;
            }
            let text = claims::as_text(value);
            if text.len() <= MAX_CONTEXT_CLAIM_BYTES {
                edits.push(Edit::SetClaim((name.clone(), text)));
            }
        }
        for (claim, header) in &settings.forward_claims {
            // Always set or removed, so a client cannot send its own value.
            match claims.get(claim).map(claims::as_text) {
                Some(text) => edits.push(Edit::SetHeader((header.clone(), text))),
                None => edits.push(Edit::RemoveHeader(header.clone())),
            }
        }
        Grant::Allow(edits)
    }

    /// Edits that take the token out of the request sent upstream.
    fn strip(&self, request: &Request) -> Vec<Edit> {
        let source = &self.settings.token;
        match source.from {
            From::Header => vec![Edit::RemoveHeader(source.name.clone())],
            From::Cookie => {
                match token::cookie_without(&request.header_all("cookie"), &source.name) {
                    Some(rest) => vec![Edit::SetHeader(("cookie".into(), rest))],
                    None => vec![Edit::RemoveHeader("cookie".into())],
                }
            }
            From::Query => vec![portcullis_sdk::query::strip_param(request, &source.name)],
        }
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, TokenCache<Grant>> {
        // A poisoned cache only loses remembered tokens.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Policy for Jwt {
    const PHASES: &'static [Phase] = &[Phase::RequestHeaders];

    fn configure(config: &str) -> Result<Self, String> {
        let jwt = Jwt::from_json(config)?;
        // Fetch remote keys now, off the request path; a failure here is
        // not fatal (the issuer may be back by the first request).
        let now_ms = unix_now_ms();
        for issuer in &jwt.issuers {
            issuer.keys.get(None, now_ms);
        }
        Ok(jwt)
    }

    fn on_request(&self, _phase: Phase, request: &Request, _context: &Context) -> Decision {
        let settings = &self.settings;
        let realm = &settings.realm;
        let source = &settings.token;
        let found = match source.from {
            From::Header => token::from_header(&request.header_all(&source.name), &source.scheme),
            From::Cookie => token::from_cookie(&request.header_all("cookie"), &source.name),
            From::Query => token::from_query(request.query().as_deref(), &source.name),
        };
        let token = match found {
            Found::Token(token) => token,
            Found::Missing => return Challenge::Missing.decision(realm, "no-token"),
            Found::Ambiguous => {
                return Challenge::InvalidRequest.decision(realm, "ambiguous-token");
            }
        };
        if token.len() > settings.max_token_bytes {
            return Challenge::InvalidToken.decision(realm, "token-too-large");
        }
        let now_ms = unix_now_ms();
        let now = now_ms / 1000;
        let (grant, expires) = match self.grant(&token, now) {
            Ok(known) => known,
            Err(refusal) => return refusal,
        };
        match &*grant {
            Grant::Allow(edits) => {
                let mut edits = edits.clone();
                if settings.strip_token {
                    edits.extend(self.strip(request));
                }
                // The grant follows from the token alone, read above, so
                // the gateway may give it again for the same token until
                // the token's cache entry would expire; with no cache, a
                // token is checked on every request.
                if settings.cache_size > 0 {
                    let left_ms = expires.saturating_mul(1000).saturating_sub(now_ms);
                    portcullis_sdk::host::reusable_for(std::time::Duration::from_millis(left_ms));
                }
                Decision::allow_with(edits)
            }
            Grant::Refuse(challenge, reason) => challenge.decision(realm, reason),
        }
    }
}

/// Milliseconds since the Unix epoch, from WASI's wall clock, which every
/// plugin has; the `clock` capability is not needed for this.
fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

export_policy!(Jwt);
