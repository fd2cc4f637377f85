//! The example tenant authorizer in six languages (`examples/authorizers/`),
//! each built from source by its own build script: every component passes
//! the shared `cases.json` through `portcullis plugin test` with the same
//! decisions, and each admits signed requests, and only those, through a
//! real gateway.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::fixtures::{target_dir, workspace};
use crate::support::gateway::{binary, plugin_cache};
use crate::support::{Gateway, Origin, send};

const LANGUAGES: [&str; 6] = ["rust", "js", "python", "c", "go", "zig"];

/// The secret in `cases.json`.
const SECRET: &str = "example-secret-for-tests-only-0123456789";

fn authorizers() -> PathBuf {
    workspace().join("examples/authorizers")
}

/// Build `language`'s component into `dir` with its build script.
fn build(language: &str, dir: &Path) -> PathBuf {
    let out = dir.join(format!("{language}.wasm"));
    let output = Command::new(authorizers().join(language).join("build.sh"))
        .arg(&out)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("run build.sh");
    assert!(
        output.status.success() && out.is_file(),
        "building the {language} authorizer failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// `portcullis plugin test COMPONENT --cases cases.json --json`.
fn run_cases(component: &Path) -> (bool, Value) {
    let output = Command::new(binary())
        .args(["plugin", "test"])
        .arg(component)
        .arg("--cases")
        .arg(authorizers().join("cases.json"))
        .arg("--json")
        // The test gateway's cache: it then finds these compiled (a
        // Python component takes many seconds to compile).
        .env("PORTCULLIS_CACHE_DIR", plugin_cache())
        .output()
        .expect("run portcullis plugin test");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: no report ({e}):\n{}",
            component.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.success(), report)
}

/// `x-signature` made with the openssl CLI, an implementation independent
/// of every example.
fn signature(method: &str, path: &str, timestamp: u64, tenant: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", SECRET, "-r"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run openssl");
    let message = format!("{method}\n{path}\n{timestamp}\n{tenant}");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(message.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("openssl output");
    String::from_utf8(output.stdout)
        .expect("hex")
        .split_whitespace()
        .next()
        .expect("digest")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn six_languages_decide_alike_and_guard_a_real_gateway() {
    let dir = tempfile::tempdir().expect("temp dir");
    let components: Vec<(&str, PathBuf)> = LANGUAGES
        .iter()
        .map(|language| (*language, build(language, dir.path())))
        .collect();

    // The conformance kit: every case passes, and the decisions (edits,
    // denials, reasons) are the same in every language.
    let mut reference: Option<Value> = None;
    for (language, component) in &components {
        let (passed, report) = run_cases(component);
        assert!(passed, "{language} failed cases: {report:#}");
        let decisions: Vec<Value> = report["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .map(|case| case["outcome"].clone())
            .collect();
        assert_eq!(decisions.len(), 26, "{language}");
        match &reference {
            None => reference = Some(Value::from(decisions)),
            Some(first) => assert_eq!(
                first,
                &Value::from(decisions),
                "{language} decided otherwise"
            ),
        }
    }

    // The gateway: one route per language, each guarded by its component,
    // an instance per request.
    let origin = Origin::start().await;
    let mut plugins = serde_json::Map::new();
    let mut routes = Vec::new();
    for (language, component) in &components {
        plugins.insert(
            language.to_string(),
            json!({
                "path": component.display().to_string(),
                "role": "authorizer",
                "settings": { "secret": SECRET },
                // Every request on a never-used instance, made ahead in
                // the background: no request pays an instantiation.
                "pool": { "isolation": "per-request", "prewarm": 2 },
                "authorizer": {
                    "type": "request",
                    "identity_sources": ["header:x-tenant", "header:x-timestamp", "header:x-signature"],
                    "ttl_s": 60,
                    "context_headers": { "tenant": "x-tenant-verified" },
                },
            }),
        );
        routes.push(json!({
            "id": language,
            "path": { "prefix": format!("/{language}/") },
            "upstream": { "targets": [origin.target()] },
            "plugins": [{ "name": language }],
        }));
    }
    let gateway = Gateway::start_json(&json!({ "plugins": plugins, "routes": routes }));
    let now = crate::support::jwt::now();
    for (language, _) in &components {
        let path = format!("/{language}/orders");
        let ts = now.to_string();
        let good = signature("GET", &path, now, "acme");
        let signed = [
            ("x-tenant", "acme"),
            ("x-timestamp", ts.as_str()),
            ("x-signature", good.as_str()),
        ];
        let ok = send("GET", &gateway.url(&path), &signed, "").await;
        assert_eq!(ok.status, 200, "{language}: {}", ok.text());
        assert_eq!(
            ok.json()["headers"]["x-tenant-verified"],
            json!(["acme"]),
            "{language}"
        );
        let forged = [
            ("x-tenant", "globex"),
            ("x-timestamp", ts.as_str()),
            ("x-signature", good.as_str()),
        ];
        let refused = send("GET", &gateway.url(&path), &forged, "").await;
        assert_eq!(refused.status, 401, "{language}: {}", refused.text());
        assert_eq!(
            refused.json(),
            json!({ "error": "unauthorized" }),
            "{language}"
        );
    }
    assert_eq!(origin.hits(), LANGUAGES.len());
}
