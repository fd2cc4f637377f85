//! Data residency routing. A route with `[[routes.regions]]` sends each
//! client to its home pool: the region whose countries include the
//! client's, or the route's own upstream for everyone else (and for
//! clients whose country is unknown).
//!
//! When the home pool is down (every target ejected by the passive health
//! checks, or no target accepting a connection), the request goes to the
//! other pools in order, the route's own upstream first, unless the route
//! sets `no_cross_border_failover`: then the client gets 503 and the
//! request never leaves its region. A request that cannot be sent twice
//! (a body, or a method that is not idempotent) fails over only on a pool
//! already known to be down, before anything was sent.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use http::Request;

use super::{Upstream, is_resendable};
use crate::body::{self, BoxBody};
use crate::config::RouteConfig;
use crate::error::GatewayError;
use crate::geo::GeoDb;
use crate::reply::Reply;

/// The name of the route's own pool in logs and errors.
const DEFAULT_REGION: &str = "default";

/// A route's regional pools.
pub struct Regions {
    regions: Vec<Region>,
    /// Country code to index in `regions`.
    home_of: HashMap<String, usize>,
    no_cross_border_failover: bool,
    geo: Arc<GeoDb>,
    default_name: Arc<str>,
}

struct Region {
    name: Arc<str>,
    upstream: Upstream,
}

/// A client's home: a region's index, or `None` for the route's own pool.
pub type Home = Option<usize>;

impl Regions {
    /// Build from a validated route; TLS files are read relative to `dir`.
    /// Errors carry the offending key, relative to the route.
    pub fn new(
        route: &RouteConfig,
        geo: Arc<GeoDb>,
        dir: &std::path::Path,
    ) -> Result<Self, (String, String)> {
        let mut regions = Vec::with_capacity(route.regions.len());
        let mut home_of = HashMap::new();
        for (r, config) in route.regions.iter().enumerate() {
            let upstream = Upstream::new(&config.upstream, dir)
                .map_err(|reason| (format!("regions[{r}].upstream"), reason))?;
            for entry in &config.countries {
                let codes = crate::geo::countries::expand(entry)
                    .map_err(|reason| (format!("regions[{r}].countries"), reason))?;
                for code in codes {
                    home_of.insert(code, r);
                }
            }
            regions.push(Region {
                name: Arc::from(config.name.as_str()),
                upstream,
            });
        }
        Ok(Self {
            regions,
            home_of,
            no_cross_border_failover: route.no_cross_border_failover,
            geo,
            default_name: Arc::from(DEFAULT_REGION),
        })
    }

    /// The home of a client from `country` (set by a plugin), or else the
    /// country the database gives `client_ip`.
    pub fn home(&self, country: Option<&str>, client_ip: IpAddr) -> Home {
        match country {
            Some(code) => self.home_of.get(&code.to_ascii_uppercase()).copied(),
            None => self
                .geo
                .country(client_ip)
                .and_then(|code| self.home_of.get(&code).copied()),
        }
    }

    /// A pool's name and upstream.
    fn pool<'a>(&'a self, default: &'a Upstream, home: Home) -> (&'a Arc<str>, &'a Upstream) {
        match home.and_then(|i| self.regions.get(i)) {
            Some(region) => (&region.name, &region.upstream),
            None => (&self.default_name, default),
        }
    }

    /// Send `request` to `home`'s pool, failing over as the route allows.
    pub async fn send(
        &self,
        default: &Upstream,
        home: Home,
        request: Request<BoxBody>,
    ) -> Result<Reply, GatewayError> {
        let (home_name, home_pool) = self.pool(default, home);
        if self.no_cross_border_failover {
            if home_pool.is_down() {
                tracing::warn!(region = %home_name, "home pool down; no cross-border failover");
                return Err(GatewayError::RegionUnavailable(home_name.clone()));
            }
            return home_pool.send(request).await.map_err(|e| match e {
                GatewayError::UpstreamUnreachable(detail) => {
                    tracing::warn!(region = %home_name, detail, "home pool unreachable; no cross-border failover");
                    GatewayError::RegionUnavailable(home_name.clone())
                }
                other => other,
            });
        }
        // Home first, then the route's own pool, then the regions in order.
        let order = std::iter::once(home)
            .chain(std::iter::once(None))
            .chain((0..self.regions.len()).map(Some));
        let mut pools: Vec<(&Arc<str>, &Upstream)> = Vec::with_capacity(self.regions.len() + 1);
        for candidate in order {
            let pool = self.pool(default, candidate);
            if !pools.iter().any(|(name, _)| Arc::ptr_eq(name, pool.0)) && !pool.1.is_down() {
                pools.push(pool);
            }
        }
        // Every pool down: the home pool may have recovered; a guess beats
        // certain failure.
        if pools.is_empty() {
            pools.push((home_name, home_pool));
        }
        let resendable = is_resendable(&request);
        let (parts, body) = request.into_parts();
        let mut body = Some(body);
        for (i, (name, pool)) in pools.iter().enumerate() {
            let last = i + 1 == pools.len() || !resendable;
            // A resendable request has no body to lose on an attempt.
            let this_body = match body.take() {
                Some(body) if last => body,
                _ => body::empty(),
            };
            match pool
                .send(Request::from_parts(parts.clone(), this_body))
                .await
            {
                Err(GatewayError::UpstreamUnreachable(detail)) if !last => {
                    tracing::warn!(region = %name, detail, "pool unreachable; failing over");
                }
                outcome => {
                    if !Arc::ptr_eq(name, home_name) {
                        tracing::info!(home = %home_name, served_by = %name, "request served by another region");
                    }
                    return outcome;
                }
            }
        }
        Err(GatewayError::UpstreamUnreachable(format!(
            "no pool of region {home_name} answered"
        )))
    }
}
