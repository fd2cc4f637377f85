//! `/routes`: list routes (`GET`), attach a plugin to a route or change its
//! settings there (`PUT /routes/{id}/plugins/{name}`), detach it
//! (`DELETE /routes/{id}/plugins/{name}`).

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde::Deserialize;
use serde_json::json;

use super::changes::{self, EditError};
use super::server::{Admin, error, json};
use crate::config::{Config, RoutePluginConfig};

/// What attaching a plugin takes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Attach {
    /// Settings for this route; the plugin's defaults if absent.
    settings: Option<toml::Table>,
    /// Where in the chain (0 is first); last if absent. Ignored when the
    /// plugin is already attached: it keeps its place.
    position: Option<usize>,
}

/// Route a `/routes` call; `rest` is what follows `/routes/`.
pub async fn handle(
    admin: &Admin,
    method: &Method,
    rest: &str,
    body: &Bytes,
) -> Response<Full<Bytes>> {
    let parts: Vec<&str> = rest.split('/').collect();
    match (method, parts.as_slice()) {
        (&Method::GET, [""]) => list(admin),
        (&Method::PUT, [route, "plugins", plugin]) => attach(admin, route, plugin, body).await,
        (&Method::DELETE, [route, "plugins", plugin]) => detach(admin, route, plugin).await,
        (_, [""]) => error(StatusCode::METHOD_NOT_ALLOWED, "use GET"),
        (_, [_, "plugins", _]) => error(StatusCode::METHOD_NOT_ALLOWED, "use PUT or DELETE"),
        _ => error(StatusCode::NOT_FOUND, "no such endpoint"),
    }
}

fn list(admin: &Admin) -> Response<Full<Bytes>> {
    let gateway = admin.live.current();
    let routes: Vec<_> = gateway
        .config
        .routes
        .iter()
        .map(|route| {
            let path = [
                ("exact", &route.path.exact),
                ("prefix", &route.path.prefix),
                ("regex", &route.path.regex),
            ]
            .into_iter()
            .find_map(|(kind, value)| value.as_ref().map(|v| json!({ kind: v })));
            json!({
                "id": route.id,
                "hosts": route.hosts,
                "path": path,
                "methods": route.methods,
                "upstream": {
                    "targets": route.upstream.targets,
                    "builtin": route.upstream.builtin,
                },
                "regions": route.regions.iter().map(|r| &r.name).collect::<Vec<_>>(),
                // Settings may hold resolved secrets: only whether there are any.
                "plugins": route.plugins.iter().map(|p| json!({
                    "name": p.name,
                    "route_settings": p.settings.is_some(),
                })).collect::<Vec<_>>(),
                "rate_limits": route.rate_limits,
                "public": route.public,
            })
        })
        .collect();
    json(StatusCode::OK, &json!({ "routes": routes }))
}

async fn attach(admin: &Admin, route: &str, plugin: &str, body: &Bytes) -> Response<Full<Bytes>> {
    let request: Attach = if body.is_empty() {
        Attach {
            settings: None,
            position: None,
        }
    } else {
        match serde_json::from_slice(body) {
            Ok(request) => request,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid body: {e}")),
        }
    };
    let (route, plugin) = (route.to_string(), plugin.to_string());
    let what = format!("attach plugin {plugin} to route {route}");
    changes::apply(admin, &what, move |config| {
        known_plugin(config, &plugin)?;
        let chain = &mut route_mut(config, &route)?.plugins;
        match chain.iter_mut().find(|link| link.name == plugin) {
            Some(link) => link.settings = request.settings,
            None => {
                let link = RoutePluginConfig {
                    name: plugin,
                    settings: request.settings,
                };
                let at = request.position.unwrap_or(chain.len()).min(chain.len());
                chain.insert(at, link);
            }
        }
        Ok(())
    })
    .await
}

async fn detach(admin: &Admin, route: &str, plugin: &str) -> Response<Full<Bytes>> {
    let (route, plugin) = (route.to_string(), plugin.to_string());
    let what = format!("detach plugin {plugin} from route {route}");
    changes::apply(admin, &what, move |config| {
        let chain = &mut route_mut(config, &route)?.plugins;
        let before = chain.len();
        chain.retain(|link| link.name != plugin);
        if chain.len() == before {
            return Err(EditError::NotFound(format!(
                "plugin {plugin:?} is not attached to route {route:?}"
            )));
        }
        Ok(())
    })
    .await
}

fn route_mut<'a>(
    config: &'a mut Config,
    id: &str,
) -> Result<&'a mut crate::config::RouteConfig, EditError> {
    config
        .routes
        .iter_mut()
        .find(|r| r.id == id)
        .ok_or_else(|| EditError::NotFound(format!("no route {id:?}")))
}

fn known_plugin(config: &Config, name: &str) -> Result<(), EditError> {
    if config.plugins.contains_key(name) {
        Ok(())
    } else {
        Err(EditError::NotFound(format!("no plugin {name:?}")))
    }
}
