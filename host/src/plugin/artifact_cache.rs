//! Compiled plugins cached on disk, keyed by the component's SHA-256 and the
//! engine's compatibility hash, so a restart (or a JS/Python component that
//! takes seconds to compile) costs a file read.
//!
//! One of three modules allowed `unsafe` (with `mapped_copy` and
//! `allocator`): `Component::deserialize_file` trusts the file to be a
//! compiled artifact produced by this same engine configuration. That holds
//! because only this module writes the cache, the file name carries the
//! engine's compatibility hash, and the directory must be writable only by
//! the gateway's user (as for any cache of executable code). A file that
//! fails to deserialize is replaced by a fresh compile.
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
        let component = compile(engine, wasm);
        crate::allocator::return_freed_memory();
        return component;
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
    let component = compile(engine, wasm)?;
    let stored = store(&path, &component.serialize()?);
    let component = match stored {
        Err(e) => {
            tracing::warn!(path = %path.display(), "cannot cache a compiled plugin: {e}");
            Ok(component)
        }
        // Run from the file just written, as after a restart: its code is
        // then mapped from the page cache, only the pages that run
        // resident, instead of all of it held in the heap.
        Ok(()) => {
            drop(component);
            // SAFETY: see the module documentation.
            unsafe { Component::deserialize_file(engine, &path) }
        }
    };
    crate::allocator::return_freed_memory();
    component
}

/// Compile on threads that have exited when this returns, so that the
/// memory Cranelift freed on them (hundreds of MiB for the built-in
/// plugins) is no longer in any live thread's heap and
/// [`return_freed_memory`](crate::allocator::return_freed_memory) can give
/// it back.
fn compile(engine: &Engine, wasm: &[u8]) -> wasmtime::Result<Component> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (exited, exits) = std::sync::mpsc::channel::<()>();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("plugin-compiler-{i}"))
        .exit_handler(move |_| {
            let _ = exited.send(());
        })
        .build();
    let Ok(pool) = pool else {
        // No threads to be had: compile on the global pool.
        return Component::new(engine, wasm);
    };
    let component = pool.install(|| Component::new(engine, wasm));
    drop(pool);
    for _ in 0..threads {
        if exits
            .recv_timeout(std::time::Duration::from_secs(5))
            .is_err()
        {
            break;
        }
    }
    component
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
