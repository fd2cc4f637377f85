//! Checks of a route's upstreams: the default pool and the regional pools
//! of data residency routing.

use std::collections::HashMap;

use super::model::{RouteConfig, UpstreamConfig};

/// A failed check: the offending key and the reason.
type Failure = (String, String);

/// Check `route.upstream` and `route.regions`; `key` is the route's
/// (`routes[i]`), `has_geo` whether `[geo]` is configured.
pub fn check(route: &RouteConfig, key: &str, has_geo: bool) -> Result<(), Failure> {
    let ukey = format!("{key}.upstream");
    check_pool(&route.upstream, &ukey, &["echo", "upload-signer"])?;
    if route.upstream.strip_prefix && route.path.prefix.is_none() {
        return Err((
            format!("{ukey}.strip_prefix"),
            "needs a route with `path.prefix`".into(),
        ));
    }
    check_regions(route, key, has_geo)
}

/// One pool: exactly one of `targets` and `builtin` (one of `builtins`),
/// targets as `host:port`, timeouts of at least 1 ms.
fn check_pool(upstream: &UpstreamConfig, ukey: &str, builtins: &[&str]) -> Result<(), Failure> {
    match (&upstream.builtin, upstream.targets.is_empty()) {
        (Some(b), true) if builtins.contains(&b.as_str()) => {}
        (Some(b), true) => {
            return Err((
                format!("{ukey}.builtin"),
                format!(
                    "unknown built-in upstream {b:?} (known here: {})",
                    builtins.join(", ")
                ),
            ));
        }
        (None, false) => {
            for (j, target) in upstream.targets.iter().enumerate() {
                let ok = target
                    .parse::<http::uri::Authority>()
                    .ok()
                    .is_some_and(|a| a.port_u16().is_some() && !target.contains('@'));
                if !ok {
                    return Err((
                        format!("{ukey}.targets[{j}]"),
                        format!("{target:?} is not host:port"),
                    ));
                }
            }
        }
        _ => {
            return Err((
                ukey.to_string(),
                "give exactly one of `targets` and `builtin`".into(),
            ));
        }
    }
    if upstream.connect_timeout_ms == 0 || upstream.timeout_ms == 0 {
        return Err((ukey.to_string(), "timeouts must be at least 1 ms".into()));
    }
    Ok(())
}

/// Regions need the country database, distinct names, and each country in
/// at most one region: a client must have exactly one home.
fn check_regions(route: &RouteConfig, key: &str, has_geo: bool) -> Result<(), Failure> {
    if route.regions.is_empty() {
        if route.no_cross_border_failover {
            return Err((
                format!("{key}.no_cross_border_failover"),
                "needs [[routes.regions]]".into(),
            ));
        }
        return Ok(());
    }
    if !has_geo {
        return Err((
            format!("{key}.regions"),
            "routing by country needs a [geo] database".into(),
        ));
    }
    if route.upload_signer.is_some() {
        return Err((
            format!("{key}.regions"),
            "the upload signer answers itself; it has no regional pools".into(),
        ));
    }
    let mut homes: HashMap<String, &str> = HashMap::new();
    for (r, region) in route.regions.iter().enumerate() {
        let rkey = format!("{key}.regions[{r}]");
        if region.name.is_empty()
            || route.regions[..r]
                .iter()
                .any(|earlier| earlier.name == region.name)
        {
            return Err((
                format!("{rkey}.name"),
                format!("{:?} is empty or names an earlier region", region.name),
            ));
        }
        if region.countries.is_empty() {
            return Err((
                format!("{rkey}.countries"),
                "give at least one country code or group".into(),
            ));
        }
        for (c, entry) in region.countries.iter().enumerate() {
            let codes = crate::geo::countries::expand(entry)
                .map_err(|reason| (format!("{rkey}.countries[{c}]"), reason))?;
            for code in codes {
                if let Some(other) = homes.insert(code.clone(), &region.name)
                    && other != region.name
                {
                    return Err((
                        format!("{rkey}.countries[{c}]"),
                        format!("{code} is already in region {other:?}"),
                    ));
                }
            }
        }
        let ukey = format!("{rkey}.upstream");
        check_pool(&region.upstream, &ukey, &["echo"])?;
        if region.upstream.strip_prefix {
            return Err((
                format!("{ukey}.strip_prefix"),
                "set it on the route's [routes.upstream]; it applies to every region".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(extra: &str) -> RouteConfig {
        let text = format!(
            "id = \"r\"\npath = {{ prefix = \"/\" }}\nupstream = {{ targets = [\"127.0.0.1:1\"] }}\n{extra}"
        );
        toml::from_str(&text).expect("a route")
    }

    fn region(name: &str, countries: &str) -> String {
        format!(
            "[[regions]]\nname = \"{name}\"\ncountries = {countries}\nupstream = {{ targets = [\"127.0.0.1:2\"] }}\n"
        )
    }

    fn failure(route: &RouteConfig) -> (String, String) {
        check(route, "routes[0]", true).expect_err("refused")
    }

    #[test]
    fn regions_need_the_country_database() {
        let route = route(&region("eu", "[\"EU\"]"));
        assert!(check(&route, "routes[0]", true).is_ok());
        let (key, reason) = check(&route, "routes[0]", false).expect_err("refused");
        assert_eq!(key, "routes[0].regions");
        assert!(reason.contains("[geo]"), "{reason}");
    }

    #[test]
    fn a_country_has_one_home() {
        let regions = region("eu", "[\"EU\"]") + &region("dach", "[\"CH\", \"DE\"]");
        let (key, reason) = failure(&route(&regions));
        assert_eq!(key, "routes[0].regions[1].countries[1]");
        assert_eq!(reason, "DE is already in region \"eu\"");
    }

    #[test]
    fn region_names_and_countries_are_checked() {
        let twice = region("eu", "[\"FR\"]") + &region("eu", "[\"US\"]");
        assert_eq!(failure(&route(&twice)).0, "routes[0].regions[1].name");
        let (key, reason) = failure(&route(&region("eu", "[\"Europe\"]")));
        assert_eq!(key, "routes[0].regions[0].countries[0]");
        assert!(reason.contains("ISO 3166-1"), "{reason}");
        assert_eq!(
            failure(&route(&region("eu", "[]"))).0,
            "routes[0].regions[0].countries"
        );
    }

    #[test]
    fn failover_rules_need_regions() {
        let (key, _) = failure(&route("no_cross_border_failover = true\n"));
        assert_eq!(key, "routes[0].no_cross_border_failover");
    }

    #[test]
    fn a_region_cannot_strip_the_prefix_on_its_own() {
        let regions = region("eu", "[\"EU\"]").replace("] }", "], strip_prefix = true }");
        let (key, _) = failure(&route(&regions));
        assert_eq!(key, "routes[0].regions[0].upstream.strip_prefix");
    }
}
