//! The OWASP CRS regression suite through the real gateway: every stage that
//! checks rule ids is sent over HTTP to a route guarded by the `waf` plugin
//! (paranoia level 4, detection only, responses inspected) ahead of the
//! suite's reflecting upstream, and scored as go-ftw scores it from the
//! rule ids the plugin logs for the stage's request id.
//!
//! `tests/waf/crs-stages.txt` is the denominator; stages the HTTP parser
//! refuses before any plugin runs are in `crs-parser-rejects.txt` and pass
//! only on a 400; every other failing stage is in `crs-known-failures.txt`
//! with the reason.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::Gateway;
use crate::support::fixtures::workspace;
use crate::support::reflect::{self, ftw};
use crate::support::waf;

fn list_file(name: &str) -> PathBuf {
    workspace().join("tests/waf").join(name)
}

/// Stage names in a checked-in list: one per line, before any ` # reason`.
fn read_list(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(list_file(name)).unwrap_or_default();
    text.lines()
        .map(|line| {
            line.split('#')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .filter(|line| !line.is_empty())
        .collect()
}

/// The settings the CRS project runs its suite with.
const SUITE_SETTINGS: &str = r#"mode = "detect"
paranoia_level = 4
inspect_responses = true
crs_variables = { crs_validate_utf8_encoding = "1", arg_name_length = "100", arg_length = "400", total_arg_length = "64000", max_num_args = "255", max_file_size = "64100", combined_file_sizes = "65535" }"#;

/// What came back for one stage.
struct Answer {
    status: u16,
    request_id: Option<String>,
}

/// Send raw bytes; read the response head and its declared body (or until
/// the gateway closes), bounded.
async fn send_raw(addr: std::net::SocketAddr, raw: &[u8]) -> Option<Answer> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream.write_all(raw).await.ok()?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_some_and(|len| seen.len() >= end + 4 + len) {
                break;
            }
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&seen);
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let request_id = text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("x-request-id")
            .then(|| value.trim().to_string())
    });
    Some(Answer { status, request_id })
}

/// The raw request with an `X-Request-Id` header after the request line.
fn with_request_id(raw: &[u8], id: &str) -> Vec<u8> {
    let line_end = raw
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(raw.len(), |at| at + 2);
    let mut out = raw[..line_end].to_vec();
    out.extend_from_slice(format!("X-Request-Id: {id}\r\n").as_bytes());
    out.extend_from_slice(&raw[line_end..]);
    out
}

/// Rule ids per request id, from the plugin's `waf request|response:` lines.
fn fired_by_request(logs: &[String]) -> HashMap<String, Vec<u32>> {
    let mut fired: HashMap<String, Vec<u32>> = HashMap::new();
    for line in logs {
        let Some(at) = line.find("waf ") else {
            continue;
        };
        let text = &line[at..];
        let Some(id) = text
            .split(": request ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
        else {
            continue;
        };
        let Some(rules) = text.split("; rules").nth(1) else {
            continue;
        };
        let ids = rules.split_whitespace().filter_map(|token| {
            let digits: String = token.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        });
        fired.entry(id.to_string()).or_default().extend(ids);
    }
    fired
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crs_regression_suite_through_the_gateway() {
    let upstream = reflect::start().await;
    let gateway = Arc::new(Gateway::start(&waf::config(
        &upstream.to_string(),
        SUITE_SETTINGS,
        "",
    )));
    let stages = ftw::load_stages(&waf::crs().join("regression-tests"));

    let names: Vec<String> = stages.iter().map(|s| s.name.clone()).collect();
    let listed = read_list("crs-stages.txt");
    assert_eq!(
        names, listed,
        "the suite's id-checking stages differ from tests/waf/crs-stages.txt"
    );

    // A few stages at a time, as go-ftw runs several test files at once.
    let mut answers: Vec<Option<Answer>> = Vec::with_capacity(stages.len());
    for batch in stages.chunks(8) {
        let sends = batch.iter().map(|stage| send_raw(gateway.addr, &stage.raw));
        answers.extend(futures_util::future::join_all(sends).await);
    }
    // A stage that never gets an answer (a body shorter than its declared
    // length) is still judged by what the plugin logged before the body:
    // resend it naming its own request id.
    for (index, (stage, answer)) in stages.iter().zip(answers.iter_mut()).enumerate() {
        if answer.is_none() {
            let id = format!("crs-stage-{index}");
            let _ = send_raw(gateway.addr, &with_request_id(&stage.raw, &id)).await;
            *answer = Some(Answer {
                status: 0,
                request_id: Some(id),
            });
        }
    }

    // Log lines arrive through a pipe: a marker request's line, logged
    // last, says every earlier line is in.
    let marker = b"GET /?marker=%3Cscript%3Ealert(1)%3C/script%3E HTTP/1.1\r\nHost: localhost\r\nUser-Agent: marker\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    let marker_id = send_raw(gateway.addr, marker)
        .await
        .and_then(|a| a.request_id)
        .expect("marker answered");
    let gateway_for_wait = gateway.clone();
    let marker_seen = tokio::task::spawn_blocking(move || {
        gateway_for_wait
            .wait_for_log(|line| line.contains(&marker_id) && line.contains("waf request"))
    })
    .await
    .expect("wait for marker");
    assert!(
        marker_seen,
        "the marker request's detections were never logged"
    );
    let fired = fired_by_request(&gateway.logs());

    let parser_rejects: HashSet<String> = read_list("crs-parser-rejects.txt").into_iter().collect();
    let known: HashSet<String> = read_list("crs-known-failures.txt").into_iter().collect();
    let mut failing = BTreeMap::new();
    for (stage, answer) in stages.iter().zip(&answers) {
        let passed = match answer {
            None => false,
            Some(answer) if parser_rejects.contains(&stage.name) => answer.status == 400,
            Some(answer) => {
                let ids = answer
                    .request_id
                    .as_ref()
                    .and_then(|id| fired.get(id))
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                stage.passes(ids)
            }
        };
        if !passed {
            let status = answer.as_ref().map_or(0, |a| a.status);
            failing.insert(stage.name.clone(), status);
        }
    }
    let passed = stages.len() - failing.len();
    let rate = passed as f64 * 100.0 / stages.len() as f64;
    println!(
        "CRS v4.28.0 through the gateway: {passed}/{} id-checking stages pass ({rate:.2}%), \
         {} of them parser rejects",
        stages.len(),
        parser_rejects.len()
    );
    let unexplained: Vec<String> = failing
        .iter()
        .filter(|(name, _)| !known.contains(*name))
        .map(|(name, status)| format!("{name} (status {status})"))
        .collect();
    let stale: Vec<&String> = known
        .iter()
        .filter(|name| !failing.contains_key(*name))
        .collect();
    assert!(
        unexplained.is_empty(),
        "stages failing without an entry in tests/waf/crs-known-failures.txt:\n{}",
        unexplained.join("\n")
    );
    assert!(
        stale.is_empty(),
        "listed as failing but passing now: {stale:?}"
    );
    assert!(rate >= 97.0, "{rate:.2}% of stages pass");
}
