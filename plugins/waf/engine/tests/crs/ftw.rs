//! Reads the CRS regression suite (go-ftw YAML) into stages with the request
//! to send and the rule ids that must and must not fire.
//!
//! Shared by the native conformance test and the gateway's end-to-end runner.

use std::path::Path;

use portcullis_waf_engine::transform::Transform;
use serde_yaml::Value;

#[derive(Debug, Clone)]
pub struct Stage {
    /// `942100-3` (rule file's id, test id), plus `/n` for later stages.
    pub name: String,
    /// The request as go-ftw puts it on the wire.
    pub raw: Vec<u8>,
    pub expect_ids: Vec<u32>,
    pub no_expect_ids: Vec<u32>,
}

impl Stage {
    /// Scored as go-ftw does: every expected id fired, no forbidden one did.
    pub fn passes(&self, fired: &[u32]) -> bool {
        self.expect_ids.iter().all(|id| fired.contains(id))
            && !self.no_expect_ids.iter().any(|id| fired.contains(id))
    }
}

/// Every stage that checks rule ids, in file order.
pub fn load_stages(dir: &Path) -> Vec<Stage> {
    let mut files = Vec::new();
    collect_yaml(dir, &mut files);
    files.sort();
    let mut stages = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read test file");
        let document: Value = serde_yaml::from_str(&text)
            .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        let rule = document["rule_id"].as_u64().unwrap_or_default();
        let Some(tests) = document["tests"].as_sequence() else {
            continue;
        };
        for test in tests {
            let test_id = test["test_id"].as_u64().unwrap_or_default();
            let Some(list) = test["stages"].as_sequence() else {
                continue;
            };
            for (index, stage) in list.iter().enumerate() {
                let stage = if stage["stage"].is_mapping() {
                    &stage["stage"]
                } else {
                    stage
                };
                let log = &stage["output"]["log"];
                let ids = |key: &str| -> Vec<u32> {
                    log[key]
                        .as_sequence()
                        .map(|list| {
                            list.iter()
                                .filter_map(|v| v.as_u64())
                                .map(|v| v as u32)
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let (expect_ids, no_expect_ids) = (ids("expect_ids"), ids("no_expect_ids"));
                if expect_ids.is_empty() && no_expect_ids.is_empty() {
                    continue;
                }
                let suffix = if index == 0 {
                    String::new()
                } else {
                    format!("/{index}")
                };
                stages.push(Stage {
                    name: format!("{rule}-{test_id}{suffix}"),
                    raw: raw_request(&stage["input"]),
                    expect_ids,
                    no_expect_ids,
                });
            }
        }
    }
    stages
}

fn collect_yaml(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read test dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_yaml(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "yaml") {
            out.push(path);
        }
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The bytes go-ftw sends: `encoded_request` as is, else the request line,
/// headers (plus Content-Type, Content-Length and Connection when
/// autocompleting) and data.
pub fn raw_request(input: &Value) -> Vec<u8> {
    if let Some(encoded) = input["encoded_request"].as_str() {
        let compact: String = encoded.split_whitespace().collect();
        return base64_decode(&compact);
    }
    let method = text(&input["method"]).unwrap_or_else(|| "GET".into());
    let uri = text(&input["uri"]).unwrap_or_else(|| "/".into());
    let version = text(&input["version"]).unwrap_or_else(|| "HTTP/1.1".into());
    let autocomplete = input["autocomplete_headers"].as_bool().unwrap_or(true);
    let data = text(&input["data"]).unwrap_or_default().into_bytes();
    let mut headers: Vec<(String, String)> = input["headers"]
        .as_mapping()
        .map(|map| {
            map.iter()
                .filter_map(|(name, value)| Some((text(name)?, text(value).unwrap_or_default())))
                .collect()
        })
        .unwrap_or_default();
    let has = |headers: &[(String, String)], name: &str| {
        headers
            .iter()
            .any(|(own, _)| own.eq_ignore_ascii_case(name))
    };
    if autocomplete {
        // go-ftw sends data as a form unless the test says otherwise.
        if !data.is_empty() && !has(&headers, "content-type") {
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        if !data.is_empty() && !has(&headers, "content-length") {
            headers.push(("Content-Length".into(), data.len().to_string()));
        }
        if !has(&headers, "connection") {
            headers.push(("Connection".into(), "close".into()));
        }
    }
    let mut raw = format!("{method} {uri} {version}\r\n").into_bytes();
    for (name, value) in &headers {
        raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(&data);
    raw
}

/// Standard base64, the engine's own decoder (the text has no white space).
fn base64_decode(text: &str) -> Vec<u8> {
    Transform::Base64Decode
        .apply(text.as_bytes())
        .unwrap_or_default()
}

/// What the suite's reflecting upstream (albedo's `/reflect`) answers to a
/// JSON body `{"status": 200, "headers": {...}, "body": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reflection {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub fn reflect(request_body: &[u8]) -> Reflection {
    let document: serde_json::Value = serde_json::from_slice(request_body).unwrap_or_default();
    let status = document["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (200..600).contains(s))
        .unwrap_or(200);
    let headers = document["headers"]
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let body = match (document["body"].as_str(), document["encodedBody"].as_str()) {
        (Some(body), _) => body.as_bytes().to_vec(),
        (None, Some(encoded)) => base64_decode(encoded),
        (None, None) => Vec::new(),
    };
    Reflection {
        status,
        headers,
        body,
    }
}
