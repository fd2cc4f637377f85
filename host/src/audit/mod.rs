//! `portcullis audit`: the security posture of a configuration, as
//! findings with a stable id, a severity, a location and a fix, without
//! starting anything. The rules are in [`rules`] (and documented in
//! README's "Posture audit"); [`report`] writes them for people, as JSON,
//! or as SARIF 2.1.0 for code-scanning tools.

pub mod report;
pub mod rules;

use std::path::Path;

use serde::Serialize;

use crate::config::{self, ConfigError};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Hardening.
    Low,
    /// A weakness an attacker can use with other ones.
    Medium,
    /// A weakness an attacker can use on its own.
    High,
    /// Exposes credentials or the gateway itself.
    Critical,
}

impl Severity {
    /// Upper-case, for the human report.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's stable id, e.g. `PC001`.
    pub id: &'static str,
    /// The rule's severity.
    pub severity: Severity,
    /// The config key it is about, e.g. `routes[0]`.
    pub location: String,
    /// Line in the file, when it can be told.
    pub line: Option<usize>,
    /// What is wrong here.
    pub message: String,
    /// What to do.
    pub fix: &'static str,
}

/// Why a file could not be audited.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// It is not a valid configuration.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

/// Audit the configuration file at `path`, without resolving its secrets
/// or reading the files it names. Findings are sorted by
/// severity (highest first), then by where they are.
pub fn audit_file(path: &Path) -> Result<Vec<Finding>, AuditError> {
    let config = config::load_file_offline(path)?;
    // Secrets are resolved when a config loads: the raw text tells which
    // were written inline.
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let raw: toml::Table = text.parse().unwrap_or_default();
    let mut findings = rules::check(&config, &raw);
    for finding in &mut findings {
        finding.line = locate(&text, &finding.location);
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.line.cmp(&b.line))
            .then(a.id.cmp(b.id))
    });
    Ok(findings)
}

/// The line a key is written on, or else the line of the table holding
/// it: `routes[2]` is the third `[[routes]]`, `plugins.NAME` its
/// `[plugins.NAME]`, `server.tls.hsts` the deepest of `[server.tls.hsts]`,
/// `[server.tls]`, `[server]` written, then the key's own line inside it.
fn locate(text: &str, key: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let segments: Vec<&str> = key.split('.').collect();
    // (line index of the table, segments consumed by it)
    let table = if let Some(rest) = key.strip_prefix("routes[") {
        let index: usize = rest.split(']').next()?.parse().ok()?;
        let at = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| **l == "[[routes]]")
            .nth(index)
            .map(|(i, _)| i)?;
        Some((at, 1))
    } else {
        (1..=segments.len()).rev().find_map(|n| {
            let name = segments[..n].join(".");
            let header = format!("[{name}]");
            lines.iter().position(|l| *l == header).map(|at| (at, n))
        })
    };
    let (start, consumed) = match table {
        Some((at, consumed)) => (Some(at), consumed),
        None => (None, 0),
    };
    let own_key = segments
        .get(consumed)
        .map(|s| s.split('[').next().unwrap_or(s));
    let body_from = start.map_or(0, |at| at + 1);
    let own_line = own_key.and_then(|name| {
        lines[body_from.min(lines.len())..]
            .iter()
            .take_while(|l| !l.starts_with('['))
            .position(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.trim_start().starts_with(['=', '.']))
            })
            .map(|offset| body_from + offset)
    });
    own_line.or(start).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::locate;

    #[test]
    fn keys_are_found_at_their_tables() {
        let text = "[server]\nlisten = \"x\"\n\n[plugins.jwt]\nx = 1\n[[routes]]\nid = \"a\"\n[[routes]]\nid = \"b\"\n";
        assert_eq!(locate(text, "server.tls"), Some(1));
        assert_eq!(locate(text, "server.listen"), Some(2));
        assert_eq!(locate(text, "plugins.jwt.sha256"), Some(4));
        assert_eq!(locate(text, "plugins.jwt.x"), Some(5));
        assert_eq!(locate(text, "routes[1].rate_limits"), Some(8));
        assert_eq!(locate(text, "routes[1].id"), Some(9));
        assert_eq!(locate(text, "routes[5]"), None);
        assert_eq!(
            locate("default_policy = \"allow\"\n[server]\n", "default_policy"),
            Some(1)
        );
    }
}
