//! The log line for a request the rules matched: rule ids, where each
//! matched and the anomaly score, never the matched values.

use std::fmt::Write;

use portcullis_waf_engine::Detection;

/// Lines stay short even when a request trips many rules.
const MAX_LISTED: usize = 24;
const MAX_LOCATION: usize = 64;

pub fn line(
    request_id: &str,
    stage: &str,
    detections: &[Detection],
    score: i64,
    outcome: &str,
) -> String {
    let mut text =
        format!("waf {stage}: request {request_id} {outcome}, anomaly score {score}; rules");
    for detection in detections.iter().take(MAX_LISTED) {
        let _ = write!(text, " {}", detection.rule_id);
        if !detection.location.is_empty() {
            let _ = write!(text, "@{}", printable(&detection.location));
        }
    }
    if detections.len() > MAX_LISTED {
        let _ = write!(text, " (+{} more)", detections.len() - MAX_LISTED);
    }
    text
}

/// A location is a variable and a key the client chose: bounded, and kept
/// to printable ASCII so it cannot forge log lines. For `*_NAMES` variables
/// the key is the matched value itself, so only the variable is given.
fn printable(location: &str) -> String {
    let location = match location.split_once(':') {
        Some((variable, _)) if variable.ends_with("_NAMES") => variable,
        _ => location,
    };
    location
        .chars()
        .take(MAX_LOCATION)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detection(id: u32, location: &str) -> Detection {
        Detection {
            rule_id: id,
            phase: 2,
            severity: Some(2),
            message: "m".into(),
            data: "SECRET VALUE".into(),
            location: location.into(),
        }
    }

    #[test]
    fn lists_ids_and_locations_but_no_values() {
        let text = line(
            "r1",
            "request",
            &[detection(942100, "ARGS:q\nforged"), detection(949110, "")],
            10,
            "blocked",
        );
        assert_eq!(
            text,
            "waf request: request r1 blocked, anomaly score 10; rules 942100@ARGS:q?forged 949110"
        );
        assert!(!text.contains("SECRET"));
        let names = line(
            "r2",
            "request",
            &[detection(942100, "ARGS_NAMES:1' or 1=1--")],
            5,
            "blocked",
        );
        assert!(names.ends_with("rules 942100@ARGS_NAMES"), "{names}");
    }
}
