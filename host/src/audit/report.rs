//! Findings written for people, as JSON, or as SARIF 2.1.0.

use serde_json::{Value, json};

use super::rules::RULES;
use super::{Finding, Severity};

/// How the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One finding per paragraph, highest severity first.
    Human,
    /// `{"file", "findings": [...], "summary": {...}}`.
    Json,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
}

/// The report of `findings` in `file`.
pub fn write(format: Format, file: &str, findings: &[Finding]) -> String {
    match format {
        Format::Human => human(file, findings),
        Format::Json => {
            let report = json!({
                "file": file,
                "findings": findings,
                "summary": summary(findings),
            });
            format!("{report:#}\n")
        }
        Format::Sarif => format!("{:#}\n", sarif(file, findings)),
    }
}

fn summary(findings: &[Finding]) -> Value {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    json!({
        "critical": count(Severity::Critical),
        "high": count(Severity::High),
        "medium": count(Severity::Medium),
        "low": count(Severity::Low),
        "info": count(Severity::Info),
    })
}

fn human(file: &str, findings: &[Finding]) -> String {
    let mut out = String::new();
    for finding in findings {
        let place = match finding.line {
            Some(line) => format!("{file}:{line}"),
            None => file.to_string(),
        };
        out.push_str(&format!(
            "{} {} {place} {}: {}\n    fix: {}\n",
            finding.severity.label(),
            finding.id,
            finding.location,
            finding.message,
            finding.fix
        ));
    }
    let s = summary(findings);
    out.push_str(&format!(
        "{file}: {} findings ({} critical, {} high, {} medium, {} low, {} info)\n",
        findings.len(),
        s["critical"],
        s["high"],
        s["medium"],
        s["low"],
        s["info"]
    ));
    out
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

fn sarif(file: &str, findings: &[Finding]) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id,
                "name": rule.name,
                "shortDescription": { "text": rule.title },
                "help": { "text": format!("{} ({})", rule.fix, rule.references) },
                "defaultConfiguration": { "level": sarif_level(rule.severity) },
                "properties": { "severity": rule.severity, "references": rule.references },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|finding| {
            let mut location = json!({
                "physicalLocation": {
                    "artifactLocation": { "uri": file },
                },
                "logicalLocations": [{ "fullyQualifiedName": finding.location }],
            });
            if let Some(line) = finding.line {
                location["physicalLocation"]["region"] = json!({ "startLine": line });
            }
            json!({
                "ruleId": finding.id,
                "ruleIndex": RULES.iter().position(|r| r.id == finding.id),
                "level": sarif_level(finding.severity),
                "message": { "text": format!("{} Fix: {}", finding.message, finding.fix) },
                "locations": [location],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "portcullis audit",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "results": results,
        }]
    })
}
