//! The requests the cost benchmarks use: a typical 1 KB API request (browser
//! headers, a session cookie, a JSON body) and the same with an injection;
//! and the rule set they run under.

use std::path::{Path, PathBuf};

use portcullis_waf_engine::{RequestHead, RuleSet};

/// The CRS checkout in ../shared/corpora, beside the repository.
pub fn crs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/corpora/owasp-crs-v4.28.0")
}

/// The CRS checkout at `crs` (crs-setup.conf.example, rules/): its setup,
/// then `before`, then the rule files.
pub fn load_crs(crs: &Path, before: &str) -> Result<RuleSet, String> {
    let rules_dir = crs.join("rules");
    let setup_path = crs.join("crs-setup.conf.example");
    let setup = std::fs::read_to_string(&setup_path)
        .map_err(|e| format!("{}: {e}", setup_path.display()))?;
    let mut rules = RuleSet::new();
    rules
        .add("crs-setup.conf.example", &setup, &rules_dir)
        .map_err(|e| e.to_string())?;
    rules
        .add("before the rules", before, &rules_dir)
        .map_err(|e| e.to_string())?;
    rules.add_dir(&rules_dir).map_err(|e| e.to_string())?;
    rules.finish().map_err(|e| e.to_string())?;
    Ok(rules)
}

/// The stock CRS at `crs`, blocking at paranoia level 1: what the cost
/// benchmarks run.
pub fn crs_at_pl1(crs: &Path) -> Result<RuleSet, String> {
    load_crs(
        crs,
        r#"SecAction "id:9990001,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level=1""#,
    )
}

pub const BENIGN_BODY: &str = r#"{"customer":{"id":"c-20931","name":"Ada Lovelace","email":"ada@example.com","phone":"+44 20 7946 0958"},"items":[{"sku":"BK-1843-NOTES","title":"Notes on the Analytical Engine","quantity":1,"price":"24.90"},{"sku":"PN-0042","title":"Fountain pen, medium nib","quantity":2,"price":"12.50"}],"shipping":{"street":"12 St James's Square","city":"London","postcode":"SW1Y 4LB","country":"GB"},"notes":"Please leave the parcel with the concierge if nobody answers.","coupon":"WINTER-15","gift":false}"#;

pub fn head() -> Vec<(&'static str, String)> {
    vec![
        ("Host", "api.example.com".into()),
        (
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".into(),
        ),
        ("Accept", "application/json, text/plain, */*".into()),
        ("Accept-Language", "en-GB,en;q=0.7".into()),
        ("Accept-Encoding", "gzip, deflate, br".into()),
        ("Content-Type", "application/json".into()),
        ("Origin", "https://shop.example.com".into()),
        ("Referer", "https://shop.example.com/checkout?step=2".into()),
        (
            "Cookie",
            "session=9f8e7d6c5b4a39281706f5e4d3c2b1a0; theme=dark".into(),
        ),
    ]
}

pub const PATH: &str = "/api/v1/orders";
pub const QUERY: &str = "page=2&sort=created_at&order=desc";

fn build(body: &str) -> (RequestHead, Vec<u8>) {
    let mut headers: Vec<(Vec<u8>, Vec<u8>)> = head()
        .into_iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.into_bytes()))
        .collect();
    headers.push((
        b"Content-Length".to_vec(),
        body.len().to_string().into_bytes(),
    ));
    let head = RequestHead {
        method: "POST".into(),
        target: format!("{PATH}?{QUERY}"),
        protocol: "HTTP/1.1".into(),
        headers,
        remote_addr: "203.0.113.7".into(),
        unique_id: "0123456789abcdef".into(),
    };
    (head, body.as_bytes().to_vec())
}

pub fn benign() -> (RequestHead, Vec<u8>) {
    build(BENIGN_BODY)
}

pub fn attack_body() -> String {
    BENIGN_BODY.replace("WINTER-15", "x' UNION SELECT password FROM users--")
}

pub fn attack() -> (RequestHead, Vec<u8>) {
    build(&attack_body())
}
