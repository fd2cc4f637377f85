//! `portcullis plugin new`: for each language, the plugin it makes builds
//! with its own build script and passes its own case file.

use std::process::Command;

use crate::support::fixtures::target_dir;
use crate::support::gateway::binary;

fn run(command: &mut Command, what: &str) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn each_language_starts_a_plugin_that_builds_and_passes_its_cases() {
    let dir = tempfile::tempdir().expect("temp dir");
    for language in ["rust", "js", "python", "go"] {
        let plugin = dir.path().join(language);
        let name = format!("require-version-{language}");
        run(
            Command::new(binary())
                .args(["plugin", "new", "--lang", language, &name, "--dir"])
                .arg(&plugin),
            &format!("plugin new --lang {language}"),
        );
        run(
            // Rust: one target directory for every run, so its
            // dependencies build once.
            Command::new(plugin.join("build.sh"))
                .env("CARGO_TARGET_DIR", target_dir().join("scaffold")),
            &format!("{language}: build.sh"),
        );
        let report = run(
            Command::new(binary())
                .args(["plugin", "test"])
                .arg(plugin.join(format!("{name}.wasm")))
                .arg("--cases")
                .arg(plugin.join("cases.json")),
            &format!("{language}: plugin test"),
        );
        assert!(
            report.contains("2 cases: 2 passed, 0 failed"),
            "{language}: {report}"
        );
    }
}
