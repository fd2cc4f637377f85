//! The official JSON-Schema-Test-Suite, every non-optional case of the
//! drafts the plugin claims (draft-04 and 2020-12), through the plugin's
//! own compile path. The suite comes from the Python `jsonschema` source
//! package on PyPI (fetched once into the target directory); its
//! `remotes/` are served from that local copy for the
//! `http://localhost:1234/` references the cases make.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use portcullis_plugin_validate::retriever::DirectoryRetriever;
use portcullis_plugin_validate::schema::{CompileOptions, Schema, parse_draft};
use serde_json::Value;

fn suite() -> PathBuf {
    // The tests run in parallel; fetch once.
    static SUITE: OnceLock<PathBuf> = OnceLock::new();
    SUITE.get_or_init(fetch).clone()
}

fn fetch() -> PathBuf {
    let dest = Path::new(env!("CARGO_TARGET_TMPDIR")).join("json-schema-test-suite");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fetch-json-schema-suite.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg(&dest)
        .status()
        .expect("run the fetch script");
    assert!(
        status.success(),
        "fetching the JSON-Schema-Test-Suite failed"
    );
    dest
}

struct Outcome {
    cases: usize,
    failures: Vec<String>,
}

fn run_draft(suite: &Path, draft: &str) -> Outcome {
    let options = CompileOptions {
        draft: Some(parse_draft(draft).expect("a draft we claim")),
        retriever: DirectoryRetriever::default()
            .with_root("http://localhost:1234/", suite.join("remotes")),
        ..CompileOptions::default()
    };
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(suite.join("tests").join(format!("draft{draft}")))
            .expect("the draft's directory")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            // Subdirectories hold the optional cases.
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
    files.sort();
    let mut outcome = Outcome {
        cases: 0,
        failures: Vec::new(),
    };
    for file in files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let groups: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("JSON");
        for group in groups {
            let description = group["description"].as_str().unwrap_or("?");
            let tests = group["tests"].as_array().cloned().unwrap_or_default();
            outcome.cases += tests.len();
            let schema = match Schema::compile(&group["schema"], &options) {
                Ok(schema) => schema,
                Err(e) => {
                    outcome
                        .failures
                        .push(format!("{name}: {description}: does not compile: {e}"));
                    continue;
                }
            };
            for test in tests {
                let expected = test["valid"].as_bool().expect("valid flag");
                if schema.is_valid(&test["data"]) != expected {
                    let case = test["description"].as_str().unwrap_or("?");
                    outcome.failures.push(format!(
                        "{name}: {description}: {case}: expected valid={expected}"
                    ));
                }
            }
        }
    }
    outcome
}

fn assert_all_pass(draft: &str) {
    let outcome = run_draft(&suite(), draft);
    eprintln!(
        "draft {draft}: {} cases, {} failures",
        outcome.cases,
        outcome.failures.len()
    );
    assert!(
        outcome.cases > 500,
        "too few cases found: {}",
        outcome.cases
    );
    assert!(
        outcome.failures.is_empty(),
        "failing cases:\n{}",
        outcome.failures.join("\n")
    );
}

#[test]
fn every_required_draft_04_case_passes() {
    assert_all_pass("4");
}

#[test]
fn every_required_draft_2020_12_case_passes() {
    assert_all_pass("2020-12");
}
