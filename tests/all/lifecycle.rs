//! Process lifecycle: version, graceful shutdown.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::gateway::binary;
use crate::support::{Gateway, Origin, get};

#[test]
fn version_and_help_are_printed() {
    let version = Command::new(binary())
        .arg("--version")
        .output()
        .expect("run");
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("portcullis {}", env!("CARGO_PKG_VERSION"))
    );
    let help = Command::new(binary()).arg("--help").output().expect("run");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("run") && help.contains("validate"), "{help}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_an_in_flight_request_finish() {
    let origin = Origin::start().await;
    let mut gateway = Gateway::start(&format!(
        r#"
[[routes]]
id = "slow"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{}"] }}
"#,
        origin.target()
    ));
    let url = gateway.url("/delay/1500");
    let in_flight = tokio::spawn(async move { get(&url).await });

    // Wait until the request has reached the origin, then ask the gateway to stop.
    let deadline = Instant::now() + Duration::from_secs(10);
    while origin.hits() == 0 {
        assert!(
            Instant::now() < deadline,
            "the request never reached the origin"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gateway.terminate();

    let reply = in_flight.await.expect("task");
    assert_eq!(reply.status, 200);
    assert_eq!(&reply.body[..], b"done");
    let status = tokio::task::spawn_blocking(move || {
        let status = gateway.wait_exit(Duration::from_secs(10));
        let drained = gateway.wait_for_log(|l| l.contains("draining in-flight requests"));
        (status, drained, gateway.logs())
    })
    .await
    .expect("task");
    let (status, drained, logs) = status;
    assert!(
        status.is_some_and(|s| s.success()),
        "gateway did not exit cleanly: {status:?}\n{}",
        logs.join("\n")
    );
    assert!(drained, "{}", logs.join("\n"));
}
