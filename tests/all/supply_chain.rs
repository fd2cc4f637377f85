//! Supply-chain checks through the binary: a component whose digest is
//! not the pinned one is refused; with signing required, unsigned and
//! wrongly signed components are refused and ones signed by a trusted key
//! (`portcullis plugin keygen` / `sign`) load, from a file or uploaded
//! through the admin API.

use std::path::Path;
use std::process::Command;

use crate::runtime_admin::{admin, admin_table};
use crate::support::gateway::{binary, validate};
use crate::support::{Gateway, Origin, fixture};

/// Run `portcullis ARGS` in `dir`: (success, stdout, stderr).
fn portcullis(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(binary())
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run portcullis");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A config whose one route uses the component `component.wasm`.
fn write_config(dir: &Path, signing: &str) {
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n{signing}\n[plugins.p]\npath = \"component.wasm\"\n\n[[routes]]\nid = \"r\"\npath = {{ prefix = \"/\" }}\nupstream = {{ builtin = \"echo\" }}\nplugins = [{{ name = \"p\" }}]\n"
    );
    std::fs::write(dir.join("portcullis.toml"), toml).expect("write config");
}

/// `portcullis plugin keygen` in `dir`: the public key it prints.
fn keygen(dir: &Path, file: &str) -> String {
    let (ok, stdout, stderr) = portcullis(dir, &["plugin", "keygen", file]);
    assert!(ok, "{stderr}");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("[signing] trusted_keys = [\""))
        .and_then(|l| l.strip_suffix("\"]"))
        .expect("the public key is printed")
        .to_string()
}

#[test]
fn a_pinned_digest_must_match() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(fixture("noop"), dir.path().join("component.wasm")).expect("copy");
    write_config(dir.path(), "");
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        std::fs::read(fixture("noop")).expect("read"),
    ));
    let config = std::fs::read_to_string(dir.path().join("portcullis.toml")).expect("read");
    let pinned = |sha: &str| {
        std::fs::write(
            dir.path().join("portcullis.toml"),
            config.replace(
                "path = \"component.wasm\"",
                &format!("path = \"component.wasm\"\nsha256 = \"{sha}\""),
            ),
        )
        .expect("write");
    };
    pinned(&digest);
    let (code, _, stderr) = validate(dir.path(), "portcullis.toml");
    assert_eq!(code, 0, "{stderr}");
    pinned(&"0".repeat(64));
    let (code, _, stderr) = validate(dir.path(), "portcullis.toml");
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!(
            "plugins.p: the component's sha256 is {digest}, but the config pins {}",
            "0".repeat(64)
        )),
        "{stderr}"
    );
}

#[test]
fn with_signing_required_only_trusted_signatures_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    let component = dir.path().join("component.wasm");
    std::fs::copy(fixture("noop"), &component).expect("copy");
    let public = keygen(dir.path(), "signing.pem");
    let (_, _, refused) = portcullis(dir.path(), &["plugin", "keygen", "signing.pem"]);
    assert!(
        refused.contains("signing.pem"),
        "an existing key is never overwritten"
    );
    write_config(
        dir.path(),
        &format!("[signing]\nrequired = true\ntrusted_keys = [\"{public}\"]\n"),
    );

    let (code, _, stderr) = validate(dir.path(), "portcullis.toml");
    assert_eq!(code, 1);
    assert!(stderr.contains("signing is required and"), "{stderr}");

    let (ok, stdout, stderr) = portcullis(
        dir.path(),
        &["plugin", "sign", "--key", "signing.pem", "component.wasm"],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains(&format!("signed by {public}")), "{stdout}");
    let (code, _, stderr) = validate(dir.path(), "portcullis.toml");
    assert_eq!(code, 0, "{stderr}");
    let (ok, _, stderr) = portcullis(
        dir.path(),
        &[
            "plugin",
            "verify",
            "--trusted-key",
            &public,
            "component.wasm",
        ],
    );
    assert!(ok, "{stderr}");

    // Signed by a key the config does not trust.
    keygen(dir.path(), "other.pem");
    let (ok, _, stderr) = portcullis(
        dir.path(),
        &["plugin", "sign", "--key", "other.pem", "component.wasm"],
    );
    assert!(ok, "{stderr}");
    let (code, _, stderr) = validate(dir.path(), "portcullis.toml");
    assert_eq!(code, 1);
    assert!(
        stderr.contains("is not a valid signature of the component by any trusted key"),
        "{stderr}"
    );

    // Signed by the trusted key, then changed.
    portcullis(
        dir.path(),
        &["plugin", "sign", "--key", "signing.pem", "component.wasm"],
    );
    let mut bytes = std::fs::read(&component).expect("read");
    bytes.extend_from_slice(b"\0");
    std::fs::write(&component, bytes).expect("tamper");
    let (code, _, stderr) = validate(dir.path(), "portcullis.toml");
    assert_eq!(code, 1);
    assert!(stderr.contains("is not a valid signature"), "{stderr}");
    let (ok, _, _) = portcullis(
        dir.path(),
        &[
            "plugin",
            "verify",
            "--trusted-key",
            &public,
            "component.wasm",
        ],
    );
    assert!(!ok);
}

#[tokio::test]
async fn an_upload_needs_a_trusted_signature_when_signing_is_required() {
    let dir = tempfile::tempdir().expect("temp dir");
    let public = keygen(dir.path(), "signing.pem");
    let component = dir.path().join("noop.wasm");
    std::fs::copy(fixture("noop"), &component).expect("copy");
    let (ok, _, stderr) = portcullis(
        dir.path(),
        &["plugin", "sign", "--key", "signing.pem", "noop.wasm"],
    );
    assert!(ok, "{stderr}");
    let signature = std::fs::read_to_string(dir.path().join("noop.wasm.sig")).expect("sig");
    let origin = Origin::start().await;
    let gateway = Gateway::start(&format!(
        "{}\n[signing]\nrequired = true\ntrusted_keys = [\"{public}\"]\n{}",
        admin_table(),
        origin.route_all()
    ));
    let bytes = std::fs::read(&component).expect("read");

    let unsigned = admin(&gateway, "PUT", "/plugins/noop/component", bytes.clone()).await;
    assert_eq!(unsigned.status, 422, "{}", unsigned.text());
    assert!(
        unsigned.text().contains("signing is required"),
        "{}",
        unsigned.text()
    );
    assert_eq!(
        admin(&gateway, "GET", "/plugins/noop", "").await.status,
        404,
        "nothing changed"
    );

    let url = format!("{}/plugins/noop/component", gateway.admin_url());
    let auth = format!("Bearer {}", crate::runtime_admin::ADMIN_TOKEN);
    let signed = crate::support::send(
        "PUT",
        &url,
        &[
            ("authorization", auth.as_str()),
            ("x-portcullis-signature", signature.trim()),
        ],
        bytes,
    )
    .await;
    assert_eq!(signed.status, 200, "{}", signed.text());
    let attached = admin(&gateway, "PUT", "/routes/origin/plugins/noop", "").await;
    assert_eq!(attached.status, 200, "{}", attached.text());
    let described = admin(&gateway, "GET", "/plugins/noop", "").await.json();
    assert_eq!(
        described["provenance"]["signature_verified"], true,
        "{described}"
    );

    // The same bytes with a wrong signature are refused, and what runs is
    // untouched: later changes still load it.
    let wrong = "ab".repeat(64);
    let refused = crate::support::send(
        "PUT",
        &url,
        &[
            ("authorization", auth.as_str()),
            ("x-portcullis-signature", wrong.as_str()),
        ],
        std::fs::read(&component).expect("read"),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    let reattached = admin(&gateway, "PUT", "/routes/origin/plugins/noop", "{}").await;
    assert_eq!(reattached.status, 200, "{}", reattached.text());
}
