//! `portcullis plugin bench`: what a component costs the gateway, measured
//! the way the gateway uses it — compiled once (and cached), instances made
//! ahead of requests, calls served from an instance already made.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use super::run::{load, read_cases, request_context, request_view};
use crate::plugin::artifact_cache;
use crate::plugin::bindings::Phase;
use crate::plugin::instance::Instance;
use crate::plugin::set_clock::{SetClock, wall_clock_ms};

/// Instances made to time instantiation.
const INSTANCES: usize = 20;
/// Calls timed on one instance.
const CALLS: usize = 2_000;

/// What a component costs.
#[derive(Debug, Serialize)]
pub struct Costs {
    /// The component file.
    pub size_bytes: u64,
    /// Compiling it (and writing the compiled artifact to the cache).
    pub compile_cold: Duration,
    /// Loading the compiled artifact from the cache.
    pub compile_cached: Duration,
    /// Making and configuring one instance: median of [`INSTANCES`].
    pub instantiate: Duration,
    /// One `request-headers` call on the first case's request, on an
    /// instance made before: median of [`CALLS`].
    pub call: Duration,
    /// Linear memory one configured instance holds.
    pub memory_bytes: usize,
}

/// Measure `component` with the settings and first case of `cases_path`.
pub async fn measure(component: &Path, cases_path: &Path) -> anyhow::Result<Costs> {
    let file = read_cases(cases_path)?;
    let case = file
        .cases
        .first()
        .context("the case file has no case to call with")?;
    let wasm =
        std::fs::read(component).with_context(|| format!("cannot read {}", component.display()))?;
    let clock = Arc::new(SetClock::default());
    let mut definition = load(component, &file, clock.clone()).await?;
    // What the plugin prints would be timed too.
    if let Some(loaded) = Arc::get_mut(&mut definition) {
        loaded.show_output = false;
    }
    let engine = definition.pre.engine().clone();

    // A cache of its own, so the cold compile is cold; made new (never one
    // already there, whose artifacts would be loaded) and private.
    let cache = std::env::temp_dir().join(format!(
        "portcullis-bench-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&cache)
            .with_context(|| format!("cannot create {}", cache.display()))?;
    }
    let sha256 = crate::plugin::supply_chain::digest(&wasm);
    // The runtime `load` set up has the default settings.
    let compiler = crate::plugin::engine::compiler_config(&Default::default());
    let started = Instant::now();
    let compiled = artifact_cache::compile_cached(&engine, &compiler, &wasm, &sha256, Some(&cache));
    let compile_cold = started.elapsed();
    let started = Instant::now();
    let cached = compiled.and_then(|_| {
        artifact_cache::compile_cached(&engine, &compiler, &wasm, &sha256, Some(&cache))
    });
    let compile_cached = started.elapsed();
    let _ = std::fs::remove_dir_all(&cache);
    cached?;

    clock.set(case.now_ms.unwrap_or_else(|| wall_clock_ms(None)));
    let settings = serde_json::to_string(&file.settings)?;
    let mut made = Vec::with_capacity(INSTANCES);
    let mut instance = None;
    for _ in 0..INSTANCES {
        let started = Instant::now();
        let created = Instance::create(&definition, &settings).await?;
        made.push(started.elapsed());
        instance = Some(created);
    }
    let mut instance = instance.context("no instance was made")?;
    let memory_bytes = instance.memory_bytes();

    let request = Arc::new(request_view(case)?);
    let context = Arc::new(request_context(&case.context));
    let timeout = Duration::from_millis(file.timeout_ms);
    let mut calls = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        instance
            .on_request(
                Phase::RequestHeaders,
                request.clone(),
                None,
                context.clone(),
                timeout,
            )
            .await?;
        calls.push(started.elapsed());
    }
    Ok(Costs {
        size_bytes: u64::try_from(wasm.len()).unwrap_or(u64::MAX),
        compile_cold,
        compile_cached,
        instantiate: median(&mut made),
        call: median(&mut calls),
        memory_bytes,
    })
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}
