//! Compiled plugins cached on disk, keyed by the component's SHA-256 and the
//! engine's compatibility hash, so a restart (or a JS/Python component that
//! takes seconds to compile) costs a file read.
//!
//! One of two modules allowed `unsafe` (the other is `mapped_copy`):
//! `Component::deserialize_file` trusts the file to be a compiled artifact
//! produced by this same engine configuration. That holds because only this module writes the cache, the
//! file name carries the engine's compatibility hash, and the directory must
//! be writable only by the gateway's user (as for any cache of executable
//! code). A file that fails to deserialize is replaced by a fresh compile.
#![allow(unsafe_code)]

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Compile `wasm`, or load its compiled form from `cache_dir`; `sha256`
/// is its digest (hex), which names the cached file, so a cache hit never
/// reads `wasm`.
pub fn compile_cached(
    engine: &Engine,
    wasm: &[u8],
    sha256: &str,
    cache_dir: Option<&Path>,
) -> wasmtime::Result<Component> {
    let Some(dir) = cache_dir else {
        return Component::new(engine, wasm);
    };
    let path = artifact_path(engine, sha256, dir);
    if path.is_file() {
        // SAFETY: see the module documentation.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), "recompiling a bad cached plugin: {e}")
            }
        }
    }
    let component = Component::new(engine, wasm)?;
    if let Err(e) = store(&path, &component.serialize()?) {
        tracing::warn!(path = %path.display(), "cannot cache a compiled plugin: {e}");
    }
    Ok(component)
}

fn artifact_path(engine: &Engine, sha256: &str, dir: &Path) -> PathBuf {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    dir.join(format!("{sha256}-{:016x}.cwasm", hasher.finish()))
}

/// Write atomically: a concurrent reader sees the old file or the new one.
fn store(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// The default cache directory.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PORTCULLIS_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("portcullis"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("portcullis"))
}
