//! Builds the built-in plugins (`plugins/*`) for wasm32-wasip2 and embeds
//! them, so `cargo run` on a fresh clone gives a gateway whose configs can
//! name them without a file path.
//!
//! The plugins are built by a nested `cargo build` into `target/wasm`, a
//! target directory of their own: the outer build holds the lock on its
//! own directory, and the wasm artifacts are shared with the test fixtures.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .expect("host/ sits in the workspace root")
        .to_path_buf();
    let out_dir = PathBuf::from(env("OUT_DIR"));

    // Cargo.toml holds the plugin profile and .cargo/config.toml the wasm
    // target's flags, so they change the artifacts too.
    for watched in [
        "plugins",
        "sdk",
        "wit",
        "Cargo.lock",
        "Cargo.toml",
        ".cargo/config.toml",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }

    ensure_wasm_target();
    let plugins = plugin_dirs(&workspace.join("plugins"));
    let target_dir = wasm_target_dir(&out_dir);
    let packages: Vec<String> = plugins
        .iter()
        .map(|name| format!("portcullis-plugin-{name}"))
        .collect();
    build_wasm(&workspace, &target_dir, &packages);

    // The digests are computed here, so a start that finds a plugin's
    // compiled form in the cache never reads (and keeps resident) its
    // embedded bytes.
    let mut table = String::from(
        "/// (name, component bytes, their SHA-256 in hex) of every built-in plugin.\n",
    );
    table.push_str("pub const BUILTIN_PLUGINS: &[(&str, &[u8], &str)] = &[\n");
    for name in &plugins {
        let artifact = target_dir
            .join("wasm32-wasip2/plugin")
            .join(format!("portcullis_plugin_{}.wasm", name.replace('-', "_")));
        assert!(
            artifact.is_file(),
            "built plugin missing: {}",
            artifact.display()
        );
        // The digest must follow the bytes `include_bytes!` embeds.
        println!("cargo:rerun-if-changed={}", artifact.display());
        let bytes = std::fs::read(&artifact).expect("read the built plugin");
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        table.push_str(&format!(
            "    ({name:?}, include_bytes!({:?}), {digest:?}),\n",
            artifact.display().to_string()
        ));
    }
    table.push_str("];\n");
    std::fs::write(out_dir.join("builtin_plugins.rs"), table).expect("write builtin_plugins.rs");
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by cargo"))
}

/// Every directory under `plugins/` with a Cargo.toml, sorted.
fn plugin_dirs(plugins: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(plugins)
        .expect("read plugins/")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// `<target>/wasm`, found from OUT_DIR (`<target>/<profile>/build/<pkg>/out`,
/// one level deeper when cross-compiling).
fn wasm_target_dir(out_dir: &Path) -> PathBuf {
    let target = out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .or_else(|| out_dir.ancestors().nth(4))
        .expect("OUT_DIR lies inside the target directory");
    target.join("wasm")
}

/// rust-toolchain.toml lists the wasm32-wasip2 target, but rustup installs
/// listed targets only with the toolchain itself: on a machine that already
/// had the toolchain, add the target here so a plain `cargo run` works.
fn ensure_wasm_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok();
    let sysroot = sysroot.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let installed =
        sysroot.is_some_and(|root| Path::new(&root).join("lib/rustlib/wasm32-wasip2").is_dir());
    if installed {
        return;
    }
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", "wasm32-wasip2"]);
    if let Ok(toolchain) = std::env::var("RUSTUP_TOOLCHAIN") {
        cmd.args(["--toolchain", &toolchain]);
    }
    match cmd.status() {
        Ok(status) if status.success() => {}
        _ => println!(
            "cargo:warning=could not add the wasm32-wasip2 target; run `rustup target add wasm32-wasip2`"
        ),
    }
}

fn build_wasm(workspace: &Path, target_dir: &Path, packages: &[String]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args([
            "build",
            "--profile",
            "plugin",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(target_dir);
    for package in packages {
        cmd.args(["-p", package]);
    }
    // The outer build's settings are for the host, not for wasm guests.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let output = cmd
        .output()
        .expect("run cargo to build the built-in plugins");
    if !output.status.success() {
        panic!(
            "building the built-in plugins for wasm32-wasip2 failed \
             (is the target installed? `rustup target add wasm32-wasip2`):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
