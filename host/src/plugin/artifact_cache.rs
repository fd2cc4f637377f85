//! Compiled plugins cached on disk, keyed by the component's SHA-256 and the
//! engine's compatibility hash, so a restart (or a JS/Python component that
//! takes seconds to compile) costs a file read.
//!
//! One of four modules allowed `unsafe` (with `mapped_copy`, `allocator`
//! and `field_value`): `Component::deserialize_file` trusts the file to be a
//! compiled artifact produced by this same engine configuration. That holds
//! because only this module writes the cache, the file name carries the
//! engine's compatibility hash, and the directory must be writable only by
//! the gateway's user (as for any cache of executable code). A file that
//! fails to deserialize is replaced by a fresh compile.
#![allow(unsafe_code)]

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// Compile `wasm`, or load its compiled form from `cache_dir`; `sha256`
/// is its digest (hex), which names the cached file, so a cache hit never
/// reads `wasm`. `compiler` is [`compiler_config`](super::engine::compiler_config)
/// for the settings `engine` was built with.
pub fn compile_cached(
    engine: &Engine,
    compiler: &Config,
    wasm: &[u8],
    sha256: &str,
    cache_dir: Option<&Path>,
) -> wasmtime::Result<Component> {
    let Some(dir) = cache_dir else {
        let compiled = compile(compiler, wasm);
        crate::allocator::return_freed_memory();
        // SAFETY: the bytes were serialized a moment ago by an engine with
        // `engine`'s code settings.
        return unsafe { Component::deserialize(engine, compiled?) };
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
    let compiled = compile(compiler, wasm)?;
    let component = match store(&path, &compiled) {
        Err(e) => {
            tracing::warn!(path = %path.display(), "cannot cache a compiled plugin: {e}");
            // SAFETY: as for the uncached compile above.
            unsafe { Component::deserialize(engine, &compiled) }
        }
        // Run from the file just written, as after a restart: its code is
        // then mapped from the page cache, only the pages that run
        // resident, instead of all of it held in the heap.
        Ok(()) => {
            drop(compiled);
            // SAFETY: see the module documentation.
            unsafe { Component::deserialize_file(engine, &path) }
        }
    };
    crate::allocator::return_freed_memory();
    component
}

/// Compile to an artifact with an engine of its own, dropped when this
/// returns, on threads that have exited when this returns. So what
/// Cranelift allocated (hundreds of MiB for the built-in plugins) is
/// neither held by a live engine's compiler contexts nor in a live
/// thread's heap, and
/// [`return_freed_memory`](crate::allocator::return_freed_memory) can give
/// it back.
fn compile(compiler: &Config, wasm: &[u8]) -> wasmtime::Result<Vec<u8>> {
    let compiler = Engine::new(compiler)?;
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
        return compiler.precompile_component(wasm);
    };
    let compiled = pool.install(|| compiler.precompile_component(wasm));
    drop(pool);
    for _ in 0..threads {
        if exits
            .recv_timeout(std::time::Duration::from_secs(5))
            .is_err()
        {
            break;
        }
    }
    compiled
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
