//! Plugins built from source for the tests. Each fixture is built the first
//! time a test names it (a test binary builds only what its tests use), by
//! the same cargo into the same `target/wasm` directory the host's build
//! script uses, so dependencies are compiled once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is in the workspace")
        .to_path_buf()
}

/// The cargo target directory this test binary was built in.
pub fn target_dir() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_portcullis"));
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/portcullis")
        .to_path_buf()
}

/// Path of the built component of `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    component(&format!("portcullis-fixture-{name}"))
}

/// Build the component of workspace package `package`, once per test binary.
fn component(package: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(package) {
        return path.clone();
    }
    let wasm_dir = target_dir().join("wasm");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace())
        .args([
            "build",
            "--quiet",
            "--profile",
            "plugin",
            "--target",
            "wasm32-wasip2",
            "-p",
            package,
        ])
        .arg("--target-dir")
        .arg(&wasm_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("run cargo");
    assert!(status.success(), "building {package} failed");
    let path = wasm_dir
        .join("wasm32-wasip2/plugin")
        .join(format!("{}.wasm", package.replace('-', "_")));
    assert!(
        path.is_file(),
        "{package} was not built at {}",
        path.display()
    );
    built.insert(package.to_string(), path.clone());
    path
}
