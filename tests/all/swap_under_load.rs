//! Zero-downtime changes: while clients send a steady stream of requests
//! over keep-alive connections, a plugin's component is replaced 20 times
//! through the admin API and the config file is reloaded 20 times. Not one
//! request may fail or lose its connection, and after each change the new
//! behaviour must be served (polled up to 10 s; the switch times are
//! printed).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::runtime_admin::{admin, config};
use crate::support::{Gateway, Origin, fixture, send};

/// Clients sending at once.
const CLIENTS: usize = 4;
/// Changes of each kind.
const CHANGES: usize = 20;

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    failed: AtomicUsize,
}

/// One client looping over a keep-alive connection until `stop`.
async fn load(url: String, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    while !stop.load(Ordering::Relaxed) {
        let request = http::Request::get(&url)
            .body(Full::new(Bytes::new()))
            .expect("request");
        let outcome = match client.request(request).await {
            Ok(response) => {
                let ok = response.status() == 200;
                let body = response.into_body().collect().await;
                ok && body.is_ok()
            }
            Err(_) => false,
        };
        let counter = if outcome { &tally.ok } else { &tally.failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Poll (up to 10 s) until `check` holds for a fresh request's reply;
/// the time since `started`, when the change was asked for.
async fn switch_time(
    gateway: &Gateway,
    started: Instant,
    check: impl Fn(&crate::support::client::Reply) -> bool,
) -> Duration {
    loop {
        let reply = send("GET", &gateway.url("/x"), &[], "").await;
        if check(&reply) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the change was not served within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn summary(times: &mut [Duration]) -> String {
    times.sort();
    format!(
        "median {:?}, max {:?}",
        times[times.len() / 2],
        times[times.len() - 1]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_swap_and_configs_reload_under_load_without_a_failed_request() {
    let origin = Origin::start().await;
    let gateway = Gateway::start_with_server_keys("reload_check_ms = 0", &config(&origin, "0"));
    let components = [
        std::fs::read(fixture("misbehave")).expect("component"),
        std::fs::read(fixture("noop")).expect("component"),
    ];
    // Both versions compiled once before the clock starts.
    for bytes in &components {
        let warm = admin(&gateway, "PUT", "/plugins/swapped/component", bytes.clone()).await;
        assert_eq!(warm.status, 200, "{}", warm.text());
    }
    let attached = admin(&gateway, "PUT", "/routes/r/plugins/swapped", "").await;
    assert_eq!(attached.status, 200, "{}", attached.text());

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(load(gateway.url("/x"), stop.clone(), tally.clone())))
        .collect();

    let mut swaps = Vec::with_capacity(CHANGES);
    for i in 0..CHANGES {
        let misbehave = i % 2 == 0;
        let bytes = components[usize::from(!misbehave)].clone();
        let started = Instant::now();
        let swapped = admin(&gateway, "PUT", "/plugins/swapped/component", bytes).await;
        assert_eq!(swapped.status, 200, "{}", swapped.text());
        swaps.push(
            switch_time(&gateway, started, |reply| {
                reply.json()["headers"].get("x-misbehave-checked").is_some() == misbehave
            })
            .await,
        );
    }

    let mut reloads = Vec::with_capacity(CHANGES);
    for i in 1..=CHANGES {
        let previous = format!("\"x-version\" = \"{}\"", i - 1);
        let next = format!("\"x-version\" = \"{i}\"");
        gateway.rewrite_config(|text| text.replace(&previous, &next));
        let started = Instant::now();
        let reloaded = admin(&gateway, "POST", "/config/reload", "").await;
        assert_eq!(reloaded.status, 200, "{}", reloaded.text());
        let expected = i.to_string();
        reloads.push(
            switch_time(&gateway, started, |reply| {
                reply.header("x-version") == Some(&expected)
            })
            .await,
        );
    }

    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client task");
    }
    let (ok, failed) = (
        tally.ok.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    eprintln!(
        "under load ({ok} requests): component swaps {}; config reloads {}",
        summary(&mut swaps),
        summary(&mut reloads)
    );
    assert_eq!(failed, 0, "{failed} of {} requests failed", ok + failed);
    assert!(ok > CHANGES * 2, "the load kept going ({ok} requests)");
}
