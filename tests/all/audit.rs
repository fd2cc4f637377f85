//! `portcullis audit`: golden reports of the example configs and of a
//! config that breaks most rules, the JSON and SARIF forms, and the exit
//! codes CI relies on.

use std::process::Command;

use serde_json::Value;

use crate::support::fixtures::workspace;
use crate::support::gateway::binary;

/// Configs and the golden report beside them in `tests/golden/audit/`.
const GOLDEN: [(&str, &str); 6] = [
    ("examples/quickstart.toml", "quickstart.txt"),
    ("examples/zero-trust.toml", "zero-trust.txt"),
    ("examples/api-keys.toml", "api-keys.txt"),
    ("examples/waf/waf.toml", "waf.txt"),
    ("examples/validate/validate.toml", "validate.txt"),
    ("tests/golden/audit/insecure.toml", "insecure.txt"),
];

/// `portcullis audit ARGS` from the workspace root: (exit code, stdout, stderr).
fn audit(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(binary())
        .current_dir(workspace())
        .arg("audit")
        .args(args)
        .output()
        .expect("run portcullis audit");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn reports_match_their_golden_files() {
    // PORTCULLIS_UPDATE_GOLDEN=1 rewrites them after a deliberate change.
    let update = std::env::var_os("PORTCULLIS_UPDATE_GOLDEN").is_some();
    for (config, golden) in GOLDEN {
        let (code, stdout, stderr) = audit(&[config]);
        assert_eq!(code, 0, "{config}: {stderr}");
        let path = workspace().join("tests/golden/audit").join(golden);
        if update {
            std::fs::write(&path, &stdout).expect("write golden");
        }
        let expected = std::fs::read_to_string(&path).expect("read golden");
        assert_eq!(stdout, expected, "audit of {config}");
    }
}

#[test]
fn the_insecure_config_breaks_most_rules() {
    let (_, stdout, _) = audit(&["tests/golden/audit/insecure.toml", "--format", "json"]);
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    let mut ids: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert!(ids.len() >= 19, "{ids:?}");
    let first = &report["findings"][0];
    for field in ["id", "severity", "location", "message", "fix"] {
        assert!(first.get(field).is_some(), "{field} in {first}");
    }
    assert_eq!(report["summary"]["high"], 9);
}

#[test]
fn sarif_names_every_rule_and_locates_results() {
    let (code, stdout, _) = audit(&["tests/golden/audit/insecure.toml", "--format", "sarif"]);
    assert_eq!(code, 0);
    let sarif: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 22);
    let rule_ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
    for result in run["results"].as_array().expect("results") {
        let id = result["ruleId"].as_str().expect("ruleId");
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rule_ids[index], id);
        assert!(["error", "warning", "note"].contains(&result["level"].as_str().unwrap_or("")));
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "tests/golden/audit/insecure.toml"
        );
    }
}

#[test]
fn fail_on_sets_the_exit_code() {
    let insecure = "tests/golden/audit/insecure.toml";
    assert_eq!(audit(&[insecure, "--fail-on", "critical"]).0, 0);
    assert_eq!(audit(&[insecure, "--fail-on", "high"]).0, 1);
    assert_eq!(
        audit(&["examples/zero-trust.toml", "--fail-on", "medium"]).0,
        0
    );
    let (code, _, stderr) = audit(&["tests/golden/bad-route-regex.toml"]);
    assert_eq!(code, 2, "an invalid config is an error, not a report");
    assert!(stderr.contains("routes[0].path.regex"), "{stderr}");
}
