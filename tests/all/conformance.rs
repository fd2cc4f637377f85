//! `portcullis plugin test`, the conformance kit, on its own: a report per
//! case, exit 1 when one fails, and a case file that cannot be read named
//! with the key at fault (`authorizer_languages` runs it on six languages'
//! components); and `plugin bench`.

use std::process::{Command, Output};

use crate::support::fixture;
use crate::support::gateway::binary;

fn plugin_test(cases: &serde_json::Value, extra: &[&str]) -> Output {
    plugin_test_of("noop", cases, extra)
}

fn plugin_test_of(plugin: &str, cases: &serde_json::Value, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("cases.json");
    std::fs::write(&path, cases.to_string()).expect("write cases");
    Command::new(binary())
        .args(["plugin", "test"])
        .arg(fixture(plugin))
        .arg("--cases")
        .arg(&path)
        .args(extra)
        .output()
        .expect("run portcullis plugin test")
}

#[test]
fn each_case_is_reported_and_a_failure_fails_the_run() {
    let cases = serde_json::json!({
        "cases": [
            { "name": "lets requests through", "expect": { "decision": "continue", "edits": [] } },
            { "name": "wrongly expected to deny", "request": { "path": "/admin" },
              "expect": { "decision": "deny", "status": 403 } },
        ]
    });
    let output = plugin_test(&cases, &[]);
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("ok    lets requests through"), "{report}");
    assert!(
        report.contains("FAIL  wrongly expected to deny"),
        "{report}"
    );
    assert!(report.contains("expected deny 403, got"), "{report}");
    assert!(report.contains("2 cases: 1 passed, 1 failed"), "{report}");

    let passing = serde_json::json!({ "cases": [cases["cases"][0].clone()] });
    let output = plugin_test(&passing, &["--json"]);
    assert!(output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(
        report["cases"][0]["outcome"],
        serde_json::json!({ "decision": "continue", "edits": [] })
    );
}

#[test]
fn edits_are_held_to_the_role_as_the_gateway_holds_them() {
    // `identify` sets the principal: only an authentication plugin may.
    let case = serde_json::json!({
        "name": "sets the principal",
        "request": { "headers": [["x-user", "alice"]] },
        "expect": { "decision": "continue", "context": { "principal": "alice" } }
    });
    let as_policy = serde_json::json!({ "cases": [case.clone()] });
    let output = plugin_test_of("identify", &as_policy, &[]);
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("the gateway refuses the edits"), "{report}");

    let as_authentication = serde_json::json!({ "role": "authentication", "cases": [case] });
    let output = plugin_test_of("identify", &as_authentication, &[]);
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}");
}

#[test]
fn body_and_response_phases_run_when_the_case_has_them() {
    // `shout` checks request bodies and upper-cases response bodies.
    let cases = serde_json::json!({ "cases": [
        {
            "name": "both bodies",
            "request": { "method": "POST", "body": "hello" },
            "response": { "status": 200, "body": "quiet" },
            "expect": { "decision": "continue", "edits": [
                { "set-header": ["x-request-body-size", "5"] },
                { "replace-body": "QUIET" },
                { "set-header": ["x-shouted", "yes"] }
            ] }
        },
        {
            "name": "a refused request body stops before the response",
            "request": { "method": "POST", "body": "a forbidden word" },
            "response": { "status": 200, "body": "quiet" },
            "expect": { "decision": "deny", "status": 422, "reason": "forbidden-word" }
        },
        {
            "name": "no bodies, no body phases",
            "expect": { "decision": "continue", "edits": [] }
        }
    ]});
    let output = plugin_test_of("shout", &cases, &[]);
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}");
    assert!(report.contains("3 cases: 3 passed, 0 failed"), "{report}");
}

#[test]
fn a_bad_case_file_is_named_with_the_key_at_fault() {
    let cases = serde_json::json!({
        "cases": [{ "name": "x", "expect": { "decision": "continue" }, "requets": {} }]
    });
    let output = plugin_test(&cases, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cases.json: cases[0]"), "{stderr}");
    assert!(stderr.contains("requets"), "{stderr}");
}

#[test]
fn bench_reports_what_a_component_costs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("cases.json");
    let cases = serde_json::json!({
        "cases": [{ "name": "x", "expect": { "decision": "continue" } }]
    });
    std::fs::write(&path, cases.to_string()).expect("write cases");
    let output = Command::new(binary())
        .args(["plugin", "bench"])
        .arg(fixture("noop"))
        .arg("--cases")
        .arg(&path)
        .output()
        .expect("run portcullis plugin bench");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}");
    for part in ["size", "compile", "cached", "instantiate", "call", "memory"] {
        assert!(report.contains(part), "{part}: {report}");
    }
}
