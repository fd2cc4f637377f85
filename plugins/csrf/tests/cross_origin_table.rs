//! The cases of Go 1.25's CrossOriginProtection tests (net/http
//! csrf_test.go): Sec-Fetch-Site values, the Origin fallback, safe
//! methods, trusted origins and bypass patterns.

use portcullis_plugin_csrf::check::{Facts, Refusal};
use portcullis_plugin_csrf::from_json;

const HOST: &str = "example.com";

fn facts<'a>(method: &'a str, path: &'a str, site: &'a str, origin: &'a str) -> Facts<'a> {
    Facts {
        method,
        path,
        host: HOST,
        sec_fetch_site: (!site.is_empty()).then_some(site),
        origin: (!origin.is_empty()).then_some(origin),
    }
}

#[test]
fn sec_fetch_site_and_origin() {
    let protection = from_json("{}").expect("configures");
    // (name, method, Sec-Fetch-Site, Origin, allowed)
    let cases = [
        ("same-origin allowed", "POST", "same-origin", "", true),
        ("none allowed", "POST", "none", "", true),
        ("cross-site blocked", "POST", "cross-site", "", false),
        ("same-site blocked", "POST", "same-site", "", false),
        ("no header with no origin", "POST", "", "", true),
        (
            "no header with matching origin",
            "POST",
            "",
            "https://example.com",
            true,
        ),
        (
            "no header with mismatched origin",
            "POST",
            "",
            "https://attacker.example",
            false,
        ),
        ("no header with null origin", "POST", "", "null", false),
        ("GET allowed", "GET", "cross-site", "", true),
        ("HEAD allowed", "HEAD", "cross-site", "", true),
        ("OPTIONS allowed", "OPTIONS", "cross-site", "", true),
        ("PUT blocked", "PUT", "cross-site", "", false),
        ("DELETE blocked", "DELETE", "cross-site", "", false),
        ("PATCH blocked", "PATCH", "same-site", "", false),
        (
            "same-origin beats a mismatched origin",
            "POST",
            "same-origin",
            "https://attacker.example",
            true,
        ),
        (
            "cross-site beats a matching origin",
            "POST",
            "cross-site",
            "https://example.com",
            false,
        ),
        (
            "origin on another port",
            "POST",
            "",
            "https://example.com:8443",
            false,
        ),
    ];
    for (name, method, site, origin, allowed) in cases {
        let outcome = protection.check(&facts(method, "/", site, origin));
        assert_eq!(outcome.is_ok(), allowed, "{name}: {outcome:?}");
    }
    assert_eq!(
        protection.check(&facts("POST", "/", "cross-site", "")),
        Err(Refusal::CrossSite)
    );
    assert_eq!(
        protection.check(&facts("POST", "/", "", "https://attacker.example")),
        Err(Refusal::OriginMismatch)
    );
}

#[test]
fn trusted_origins() {
    let protection =
        from_json(r#"{"trusted_origins":["https://trusted.example"]}"#).expect("configures");
    let cases = [
        (
            "trusted origin without sec-fetch-site",
            "",
            "https://trusted.example",
            true,
        ),
        (
            "trusted origin with cross-site",
            "cross-site",
            "https://trusted.example",
            true,
        ),
        (
            "untrusted origin without sec-fetch-site",
            "",
            "https://attacker.example",
            false,
        ),
        (
            "untrusted origin with cross-site",
            "cross-site",
            "https://attacker.example",
            false,
        ),
    ];
    for (name, site, origin, allowed) in cases {
        assert_eq!(
            protection.check(&facts("POST", "/", site, origin)).is_ok(),
            allowed,
            "{name}"
        );
    }
    for bad in [
        "https://example.com/",
        "https://example.com/path",
        "https://example.com?query",
        "https://example.com#frag",
        "example.com",
        "null",
    ] {
        assert!(
            from_json(&format!(r#"{{"trusted_origins":["{bad}"]}}"#)).is_err(),
            "{bad} must be refused"
        );
    }
}

#[test]
fn bypass_patterns() {
    let protection =
        from_json(r#"{"bypass_paths":["/bypass/","/only/{foo}"]}"#).expect("configures");
    let cases = [
        ("bypass path", "/bypass/", true),
        ("bypass path with suffix", "/bypass/foo", true),
        ("non-bypass path", "/api/", false),
        ("wildcard bypass", "/only/123", true),
        ("non-wildcard", "/only/123/foo", false),
        ("dot segments out of a bypass", "/bypass/../account", false),
        (
            "encoded dots out of a bypass",
            "/bypass/%2e%2e/account",
            false,
        ),
        (
            "encoded slash out of a wildcard",
            "/only/x%2F..%2Faccount",
            false,
        ),
    ];
    for (name, path, allowed) in cases {
        for (site, origin) in [
            ("cross-site", "https://attacker.example"),
            ("", "https://attacker.example"),
        ] {
            assert_eq!(
                protection.check(&facts("POST", path, site, origin)).is_ok(),
                allowed,
                "{name} ({site:?})"
            );
        }
    }
}
