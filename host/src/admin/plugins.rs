//! `/plugins`: list plugins with provenance, capabilities, instance pools
//! and health (`GET`); define or replace one from JSON naming a component
//! file (`PUT /plugins/{name}`); upload a new component version
//! (`PUT /plugins/{name}/component`); remove one no route uses
//! (`DELETE /plugins/{name}`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};

use super::changes::{self, EditError, valid_name};
use super::server::{Admin, error, json};
use crate::config::PluginConfig;
use crate::gateway::Gateway;
use crate::plugin::definition::PluginDefinition;
use crate::plugin::supply_chain;

/// The header an upload's ed25519 signature (hex) comes in.
pub const SIGNATURE_HEADER: &str = "x-portcullis-signature";

/// Route a `/plugins` call; `rest` is what follows `/plugins/`.
pub async fn handle(
    admin: &Admin,
    method: &Method,
    rest: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response<Full<Bytes>> {
    let parts: Vec<&str> = rest.split('/').collect();
    if let Some(name) = parts.first().filter(|n| !n.is_empty())
        && !valid_name(name)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "a plugin name is letters, digits, '-', '_' and '.'",
        );
    }
    match (method, parts.as_slice()) {
        (&Method::GET, [""]) => list(admin, None),
        (&Method::GET, [name]) => list(admin, Some(name)),
        (&Method::PUT, [name]) => define(admin, name, body).await,
        (&Method::DELETE, [name]) => remove(admin, name).await,
        (&Method::PUT, [name, "component"]) => upload(admin, name, headers, body).await,
        (_, [""]) => error(StatusCode::METHOD_NOT_ALLOWED, "use GET"),
        (_, [_]) => error(StatusCode::METHOD_NOT_ALLOWED, "use GET, PUT or DELETE"),
        (_, [_, "component"]) => error(StatusCode::METHOD_NOT_ALLOWED, "use PUT"),
        _ => error(StatusCode::NOT_FOUND, "no such endpoint"),
    }
}

/// Every loaded definition by plugin name, with its pools' routes and
/// instance counts.
fn loaded(gateway: &Gateway) -> BTreeMap<String, (Arc<PluginDefinition>, Vec<Value>)> {
    let mut found: BTreeMap<String, (Arc<PluginDefinition>, Vec<Value>)> = BTreeMap::new();
    for (route, pool) in gateway.pools() {
        let definition = &pool.definition;
        found
            .entry(definition.name.to_string())
            .or_insert_with(|| (definition.clone(), Vec::new()))
            .1
            .push(json!({
                "first_route": &**route,
                "instances": pool.live(),
                "idle": pool.idle(),
                "phases": pool.phases.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>(),
            }));
    }
    found
}

fn list(admin: &Admin, only: Option<&str>) -> Response<Full<Bytes>> {
    let gateway = admin.live.current();
    let mut loaded = loaded(&gateway);
    let mut plugins = Vec::new();
    for (name, config) in &gateway.config.plugins {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let routes: Vec<&str> = gateway
            .config
            .routes
            .iter()
            .filter(|r| r.plugins.iter().any(|p| &p.name == name))
            .map(|r| r.id.as_str())
            .collect();
        let mut described = json!({
            "name": name,
            "role": format!("{:?}", config.role).to_lowercase(),
            "capabilities": crate::plugin::builtin::granted(config)
                .iter()
                .map(|c| c.interface())
                .collect::<Vec<_>>(),
            "http_allow": config.http_allow,
            "pinned_sha256": config.sha256,
            "routes": routes,
            "loaded": false,
        });
        if let Some((definition, pools)) = loaded.remove(name) {
            described["loaded"] = json!(true);
            described["provenance"] = json!(definition.provenance);
            described["pools"] = json!(pools);
            described["stats"] = definition.stats.to_json();
            described["breaker"] = json!(definition.breaker.state());
        } else {
            described["source"] = json!(config.builtin.as_ref().map_or_else(
                || config.path.as_ref().map(|p| p.display().to_string()),
                |b| Some(format!("builtin:{b}"))
            ));
        }
        plugins.push(described);
    }
    match only {
        Some(name) => match plugins.pop() {
            Some(plugin) => json(StatusCode::OK, &plugin),
            None => error(StatusCode::NOT_FOUND, &format!("no plugin {name:?}")),
        },
        None => json(StatusCode::OK, &json!({ "plugins": plugins })),
    }
}

async fn define(admin: &Admin, name: &str, body: &Bytes) -> Response<Full<Bytes>> {
    let plugin: PluginConfig = match serde_json::from_slice(body) {
        Ok(plugin) => plugin,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid body: {e}")),
    };
    let name = name.to_string();
    changes::apply(admin, &format!("define plugin {name}"), move |config| {
        config.plugins.insert(name, plugin);
        Ok(())
    })
    .await
}

async fn remove(admin: &Admin, name: &str) -> Response<Full<Bytes>> {
    let name = name.to_string();
    changes::apply(admin, &format!("remove plugin {name}"), move |config| {
        if !config.plugins.contains_key(&name) {
            return Err(EditError::NotFound(format!("no plugin {name:?}")));
        }
        let users: Vec<&str> = config
            .routes
            .iter()
            .filter(|r| r.plugins.iter().any(|p| p.name == name))
            .map(|r| r.id.as_str())
            .collect();
        if !users.is_empty() {
            return Err(EditError::Conflict(format!(
                "routes {users:?} use plugin {name:?}; detach it first"
            )));
        }
        config.plugins.remove(&name);
        Ok(())
    })
    .await
}

/// Store the uploaded component under `[admin] plugin_dir`, named by its
/// digest, and point the plugin at it, pinned to that digest. A new name
/// gets a plugin with default settings and no capabilities.
async fn upload(
    admin: &Admin,
    name: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response<Full<Bytes>> {
    if body.is_empty() {
        return error(StatusCode::BAD_REQUEST, "the body must be the component");
    }
    let signature = match headers.get(SIGNATURE_HEADER).map(|v| v.to_str()) {
        None => None,
        Some(Ok(hex)) if hex.len() == 128 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(hex.to_ascii_lowercase())
        }
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "x-portcullis-signature must be 128 hex digits",
            );
        }
    };
    let Some(dir) = admin
        .live
        .current()
        .config
        .admin
        .as_ref()
        .map(|a| a.plugin_dir.clone())
    else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "no [admin] settings");
    };
    // What a `[plugins.NAME]` table with nothing in it gets.
    let Ok(defaults) = serde_json::from_value::<PluginConfig>(json!({})) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "no plugin defaults");
    };
    let digest = supply_chain::digest(body);
    // Named by content: a file once written is never rewritten with other
    // bytes, and each signature gets a file of its own, so a refused
    // upload cannot spoil what the running configuration loads.
    let file = dir.join(format!("{name}-{digest}.wasm"));
    let signature_file = signature.as_ref().map(|hex| {
        dir.join(format!(
            "{name}-{digest}.{}.sig",
            &supply_chain::digest(hex.as_bytes())[..16]
        ))
    });
    if let Err(e) = store(
        &dir,
        &file,
        body,
        signature.as_deref(),
        signature_file.as_deref(),
    )
    .await
    {
        tracing::warn!(file = %file.display(), "cannot store an uploaded component: {e}");
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the component could not be stored",
        );
    }
    let name = name.to_string();
    changes::apply(admin, &format!("upload plugin {name}"), move |config| {
        let plugin = config.plugins.entry(name).or_insert(defaults);
        plugin.builtin = None;
        // An uploaded signature is checked whether or not signing is required.
        plugin.signature = signature_file;
        plugin.path = Some(file);
        plugin.sha256 = Some(digest);
        Ok(())
    })
    .await
}

/// Write the component (and its signature) by rename, so a reader never
/// sees half a file.
async fn store(
    dir: &std::path::Path,
    file: &std::path::Path,
    bytes: &Bytes,
    signature: Option<&str>,
    signature_file: Option<&std::path::Path>,
) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    if let (Some(signature), Some(path)) = (signature, signature_file) {
        write_by_rename(path, format!("{signature}\n").as_bytes()).await?;
    }
    write_by_rename(file, bytes).await
}

/// Write through a staging file of this call's own, then rename: readers
/// never see half a file, and concurrent uploads never share one.
async fn write_by_rename(file: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    static STAGED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = STAGED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut staged = file.as_os_str().to_owned();
    staged.push(format!(".{}.{n}.partial", std::process::id()));
    let staged = PathBuf::from(staged);
    let written = async {
        tokio::fs::write(&staged, bytes).await?;
        tokio::fs::rename(&staged, file).await
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&staged).await;
    }
    written
}
