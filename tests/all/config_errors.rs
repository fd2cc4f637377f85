//! `portcullis validate` on invalid configs: each file in `tests/golden/`
//! must fail with exactly the text in the `.err` file beside it.

use crate::support::fixtures::workspace;
use crate::support::gateway::validate;

#[test]
fn invalid_configs_fail_with_their_golden_error_text() {
    let root = workspace();
    let golden = root.join("tests/golden");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&golden)
        .expect("tests/golden")
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        let expected = std::fs::read_to_string(path.with_extension("err"))
            .unwrap_or_else(|_| panic!("{name} has no .err file"));
        let (code, _, stderr) = validate(&root, &format!("tests/golden/{name}"));
        assert_eq!(code, 1, "{name} must fail validation");
        assert_eq!(
            stderr.trim_end(),
            expected.trim_end(),
            "error text of {name}"
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} golden configs found");
}

/// Every config the README and examples/ point users at loads as it is.
#[test]
fn every_example_config_is_valid() {
    for file in [
        "examples/quickstart.toml",
        "examples/zero-trust.toml",
        "examples/api-keys.toml",
        "examples/waf/waf.toml",
        "examples/validate/validate.toml",
        "examples/deploy/gateway.toml",
    ] {
        let (code, stdout, stderr) = validate(&workspace(), file);
        assert_eq!(code, 0, "{file}: {stderr}");
        assert_eq!(stdout.trim(), format!("{file}: ok"));
    }
}

/// The geo example, with the database the tests fetch in place of the one
/// its comment tells users to fetch.
#[test]
fn the_geo_example_is_valid() {
    let example = std::fs::read_to_string(workspace().join("examples/geo/geo.toml")).expect("read");
    let database = crate::support::geo::database();
    let config = example.replace("geo-db/dbip-country.mmdb", &database.display().to_string());
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("geo.toml"), config).expect("write");
    let (code, stdout, stderr) = validate(dir.path(), "geo.toml");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "geo.toml: ok");
}
