//! The CRS regression suite run natively: each stage's request through a
//! transaction at paranoia level 4 in detection-only mode, scored as go-ftw
//! scores it. The gateway runner (tests/all/waf_crs.rs) does the same over HTTP.

use portcullis_waf_engine::{EngineMode, RequestHead, Transaction};

use crate::ftw::{Reflection, Stage, load_stages, reflect};
use crate::{crs_dir, load_crs};

/// The settings the CRS project runs its own suite with.
pub const TEST_SETUP: &str = r#"SecAction "id:900005,phase:1,nolog,pass,ctl:ruleRemoveById=910000,setvar:tx.blocking_paranoia_level=4,setvar:tx.crs_validate_utf8_encoding=1,setvar:tx.arg_name_length=100,setvar:tx.arg_length=400,setvar:tx.total_arg_length=64000,setvar:tx.max_num_args=255,setvar:tx.max_file_size=64100,setvar:tx.combined_file_sizes=65535""#;

/// Splits raw HTTP/1.1 bytes into a request head and a (de-chunked) body.
fn parse_raw(raw: &[u8]) -> (RequestHead, Vec<u8>) {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| (at, at + 4))
        .unwrap_or((raw.len(), raw.len()));
    let head_text = &raw[..split.0];
    let body = raw[split.1..].to_vec();
    let mut lines = head_text
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let mut parts = request_line.splitn(3, ' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let protocol = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(Vec<u8>, Vec<u8>)> = lines
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            Some((
                line[..colon].to_vec(),
                line[colon + 1..].trim_ascii().to_vec(),
            ))
        })
        .collect();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case(b"transfer-encoding") && v.eq_ignore_ascii_case(b"chunked")
    });
    let body = if chunked { dechunk(&body) } else { body };
    let head = RequestHead {
        method,
        target,
        protocol,
        headers,
        remote_addr: "127.0.0.1".into(),
        unique_id: "test".into(),
    };
    (head, body)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&body[..end]).trim(), 16).unwrap_or(0);
        if size == 0 || body.len() < end + 2 + size {
            return out;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[(end + 4 + size).min(body.len())..];
    }
}

fn transaction_path(stage: &Stage) -> String {
    let line = stage.raw.split(|&b| b == b'\n').next().unwrap_or_default();
    let target = String::from_utf8_lossy(line)
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    target.split('?').next().unwrap_or_default().to_string()
}

fn fired(rules: &portcullis_waf_engine::RuleSet, stage: &Stage) -> Vec<u32> {
    let (head, body) = parse_raw(&stage.raw);
    let mut transaction = Transaction::new(rules, head, EngineMode::DetectionOnly);
    transaction.request_headers();
    transaction.request_body(&body);
    let path = transaction_path(stage);
    let response = if path == "/reflect" {
        reflect(&body)
    } else {
        Reflection {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
        }
    };
    let headers = response
        .headers
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
    transaction.response_headers(response.status, "HTTP/1.1", headers);
    transaction.response_body(&response.body);
    transaction.logging();
    transaction.detections().iter().map(|d| d.rule_id).collect()
}

/// The checked-in denominator, shared with the gateway runner; rewritten
/// with `PORTCULLIS_BLESS=1`.
fn check_stage_list(stages: &[Stage]) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../tests/waf/crs-stages.txt");
    let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
    if std::env::var_os("PORTCULLIS_BLESS").is_some() {
        let mut text = String::from(
            "# Every id-checking stage of the CRS v4.28.0 regression suite (rule-test[/stage]).\n",
        );
        text.push_str(&names.join("\n"));
        text.push('\n');
        std::fs::write(&path, text).expect("write the stage list");
    }
    let listed = std::fs::read_to_string(&path).unwrap_or_default();
    let listed: Vec<&str> = listed
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert_eq!(names, listed, "stages differ from {}", path.display());
}

#[test]
fn crs_regression_suite_natively() {
    let rules = load_crs(TEST_SETUP);
    let stages = load_stages(&crs_dir().join("regression-tests"));
    check_stage_list(&stages);
    let mut failures = Vec::new();
    let only = std::env::var("WAF_STAGE").ok();
    for stage in &stages {
        if only.as_ref().is_some_and(|name| *name != stage.name) {
            continue;
        }
        let fired = fired(&rules, stage);
        if only.is_some() {
            println!("{}\nfired {fired:?}", String::from_utf8_lossy(&stage.raw));
        }
        if !stage.passes(&fired) {
            let missing: Vec<_> = stage
                .expect_ids
                .iter()
                .filter(|id| !fired.contains(id))
                .collect();
            let unwanted: Vec<_> = stage
                .no_expect_ids
                .iter()
                .filter(|id| fired.contains(id))
                .collect();
            failures.push(format!(
                "{} missing {missing:?} unwanted {unwanted:?}",
                stage.name
            ));
        }
    }
    let passed = stages.len() - failures.len();
    let rate = passed as f64 * 100.0 / stages.len() as f64;
    let report = std::env::temp_dir().join("waf-native-failures.txt");
    std::fs::write(&report, failures.join("\n")).expect("write report");
    println!(
        "native: {passed}/{} stages pass ({rate:.1}%); failures in {}",
        stages.len(),
        report.display()
    );
    if only.is_some() {
        return;
    }
    assert!(stages.len() > 4900, "{} id-checking stages", stages.len());
    assert!(rate >= 90.0, "{rate:.1}% of stages pass");
}
