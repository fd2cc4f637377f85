//! False positives: libinjection's list of benign inputs that naive
//! detectors flag, sent as a query value and as a form value through a
//! route guarded by the `waf` plugin at paranoia level 1 in blocking mode.
//! nginx + ModSecurity v3 with the same CRS blocked 6.7% (56 of 842) on
//! this kind of machine. The stock rules here block 80 (9.5%), most through
//! libinjection (942100); each block is reported with its rules, a rise
//! fails the test, and the shipped API tuning profile must bring the rate
//! to 1% or less.

use std::collections::BTreeMap;

use crate::support::fixtures::workspace;
use crate::support::{Gateway, Origin, waf};

fn benign_inputs() -> Vec<String> {
    let path = workspace().join("../shared/corpora/libinjection/false_positives.txt");
    std::fs::read_to_string(path)
        .expect("read false_positives.txt")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Every byte but unreserved ones percent-encoded, as a browser's form does.
fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Sends every input both ways; returns (blocked, sent) and the rules that
/// blocked, counted.
async fn run(gateway: &Gateway) -> (usize, usize, BTreeMap<String, usize>) {
    let client = reqwest_like::Client::new(gateway.addr);
    let inputs = benign_inputs();
    let mut blocked_ids = Vec::new();
    let mut sent = 0;
    for input in &inputs {
        let value = form_encode(input);
        for (status, id) in [
            client.get(&format!("/search?q={value}")).await,
            client.post_form("/search", &format!("q={value}")).await,
        ] {
            sent += 1;
            if status == 403 {
                blocked_ids.push(id);
            }
        }
    }
    let logs = gateway.logs();
    let mut by_rule = BTreeMap::new();
    for id in &blocked_ids {
        let line = logs
            .iter()
            .find(|l| l.contains(id.as_str()) && l.contains("waf request:"))
            .cloned()
            .unwrap_or_default();
        let rules: Vec<&str> = line
            .split("; rules ")
            .nth(1)
            .unwrap_or_default()
            .split_whitespace()
            .filter(|t| !t.starts_with("949110"))
            .map(|t| t.split('@').next().unwrap_or_default())
            .collect();
        for rule in rules {
            let rule: String = rule.chars().take_while(char::is_ascii_digit).collect();
            *by_rule.entry(rule).or_insert(0) += 1;
        }
    }
    (blocked_ids.len(), sent, by_rule)
}

mod reqwest_like {
    //! Just enough client for GET and form POST that returns the status and
    //! the request id.
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client as Hyper;
    use hyper_util::rt::TokioExecutor;

    pub struct Client {
        addr: std::net::SocketAddr,
        inner: Hyper<hyper_util::client::legacy::connect::HttpConnector, Full<bytes::Bytes>>,
    }

    impl Client {
        pub fn new(addr: std::net::SocketAddr) -> Client {
            Client {
                addr,
                inner: Hyper::builder(TokioExecutor::new()).build_http(),
            }
        }

        async fn send(&self, request: http::Request<Full<bytes::Bytes>>) -> (u16, String) {
            let response = self.inner.request(request).await.expect("gateway answers");
            let status = response.status().as_u16();
            let id = response
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let _ = response.into_body().collect().await;
            (status, id)
        }

        pub async fn get(&self, path: &str) -> (u16, String) {
            let request = http::Request::get(format!("http://{}{path}", self.addr))
                .header("host", "api.example.com")
                .header(
                    "user-agent",
                    "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
                )
                .header("accept", "application/json")
                .body(Full::default())
                .expect("request");
            self.send(request).await
        }

        pub async fn post_form(&self, path: &str, body: &str) -> (u16, String) {
            let request = http::Request::post(format!("http://{}{path}", self.addr))
                .header("host", "api.example.com")
                .header(
                    "user-agent",
                    "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
                )
                .header("accept", "application/json")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Full::new(bytes::Bytes::from(body.to_string())))
                .expect("request");
            self.send(request).await
        }
    }
}

fn report(label: &str, blocked: usize, sent: usize, by_rule: &BTreeMap<String, usize>) -> f64 {
    let rate = blocked as f64 * 100.0 / sent as f64;
    println!(
        "{label}: {blocked} of {sent} benign requests blocked ({rate:.2}%); rules involved: {by_rule:?}"
    );
    rate
}

/// Blocked benign requests with the stock rules when this test was written
/// (nginx + ModSecurity v3 blocked 56 of the same 842): a rise is a regression.
const STOCK_BLOCKED: usize = 80;

#[tokio::test]
async fn stock_rules_false_positives_are_counted_and_explained() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&waf::config(&origin.target(), "paranoia_level = 1", ""));
    let (blocked, sent, by_rule) = run(&gateway).await;
    assert_eq!(sent, 842, "the corpus changed");
    report("stock CRS, PL1", blocked, sent, &by_rule);
    assert!(
        blocked <= STOCK_BLOCKED,
        "{blocked} benign requests blocked, up from {STOCK_BLOCKED}"
    );
    assert!(
        blocked == 0 || !by_rule.is_empty(),
        "every block is explained by a rule"
    );
}

#[tokio::test]
async fn api_profile_blocks_at_most_one_percent() {
    let profile = std::fs::read_to_string(workspace().join("examples/waf/api-profile.toml"))
        .expect("read the shipped profile");
    let origin = Origin::start().await;
    let settings = format!("paranoia_level = 1\n{profile}");
    let gateway = Gateway::start(&waf::config(&origin.target(), &settings, ""));
    let (blocked, sent, by_rule) = run(&gateway).await;
    let rate = report(
        "CRS PL1 with examples/waf/api-profile.toml",
        blocked,
        sent,
        &by_rule,
    );
    assert!(rate <= 1.0, "{rate:.2}% of benign requests blocked");
}
