//! The plugin's route settings and the SecLang they stand for.

use std::collections::BTreeMap;
use std::fmt::Write;

use portcullis_waf_engine::parse::actions::id_range;
use portcullis_waf_engine::parse::targets::parse_single_target;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A Core Rule Set directory as published: `crs-setup.conf` (or
    /// `crs-setup.conf.example`) and `rules/`. A path inside a directory the
    /// operator mounted for the plugin, e.g. `/crs`.
    pub rules_dir: String,
    /// `block` refuses requests over the anomaly threshold; `detect` only logs.
    #[serde(default)]
    pub mode: Mode,
    /// CRS paranoia level (1-4) rules run and block at.
    #[serde(default = "default_paranoia")]
    pub paranoia_level: u8,
    /// A higher level to run and log at without blocking (CRS's detection
    /// paranoia level); the paranoia level by default.
    pub detection_paranoia_level: Option<u8>,
    /// Inbound anomaly score that blocks (CRS default 5: one critical match).
    #[serde(default = "default_inbound_threshold")]
    pub inbound_threshold: u32,
    /// Outbound anomaly score that blocks a response (CRS default 4).
    #[serde(default = "default_outbound_threshold")]
    pub outbound_threshold: u32,
    /// Also run the CRS's response rules (data leakage), buffering responses
    /// up to the plugin's body budget. Off by default: APIs rarely need it
    /// and it costs every response its streaming.
    #[serde(default)]
    pub inspect_responses: bool,
    /// Further CRS variables (`tx.NAME`), e.g. `allowed_methods`.
    #[serde(default)]
    pub crs_variables: BTreeMap<String, String>,
    /// Per-route tuning: rules or targets left out.
    #[serde(default)]
    pub exclusions: Vec<Exclusion>,
    /// Further SecLang files (custom rules, a tuning profile), loaded after
    /// the CRS, from the mounted directories.
    #[serde(default)]
    pub extra_rules: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    #[default]
    Block,
    Detect,
}

/// Leaves out rules (by id or tag) entirely, or, with `targets`, only the
/// named targets of those rules (of every CRS rule when neither is given).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    #[serde(default)]
    pub rule_ids: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Targets such as `ARGS:password` or `REQUEST_COOKIES:/^session/`.
    #[serde(default)]
    pub targets: Vec<String>,
}

fn default_paranoia() -> u8 {
    1
}

fn default_inbound_threshold() -> u32 {
    5
}

fn default_outbound_threshold() -> u32 {
    4
}

/// Rule ids for the settings' own rules, outside the CRS's range.
const SETTINGS_RULE_ID: u32 = 9_990_001;
const BODY_ERROR_RULE_ID: u32 = 9_990_002;

/// CRS variables the settings set themselves, after checking them.
const OWN_VARIABLES: [&str; 4] = [
    "blocking_paranoia_level",
    "detection_paranoia_level",
    "inbound_anomaly_score_threshold",
    "outbound_anomaly_score_threshold",
];

impl Settings {
    pub fn check(&self) -> Result<(), String> {
        let levels = [Some(self.paranoia_level), self.detection_paranoia_level];
        if levels
            .iter()
            .flatten()
            .any(|level| !(1..=4).contains(level))
        {
            return Err("paranoia levels run from 1 to 4".into());
        }
        if self
            .detection_paranoia_level
            .is_some_and(|d| d < self.paranoia_level)
        {
            return Err("detection_paranoia_level must not be below paranoia_level".into());
        }
        if self.inbound_threshold == 0 || self.outbound_threshold == 0 {
            return Err("anomaly thresholds must be at least 1".into());
        }
        for (name, value) in &self.crs_variables {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!(
                    "crs_variables.{name}: names are letters, digits and _"
                ));
            }
            if OWN_VARIABLES.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(format!(
                    "crs_variables.{name}: set it with its own setting (paranoia_level, \
                     detection_paranoia_level, inbound_threshold, outbound_threshold)"
                ));
            }
            if value.contains(['\'', '"', '\\', '\n']) || value.contains("%{") {
                return Err(format!(
                    "crs_variables.{name}: quotes, backslashes, newlines and %{{ are not allowed"
                ));
            }
        }
        for exclusion in &self.exclusions {
            if exclusion.rule_ids.is_empty()
                && exclusion.tags.is_empty()
                && exclusion.targets.is_empty()
            {
                return Err("an exclusion names rule_ids, tags or targets".into());
            }
            for id in &exclusion.rule_ids {
                id_range(id)
                    .map_err(|_| format!("exclusions: {id:?} is not a rule id or id range"))?;
            }
            for tag in &exclusion.tags {
                if tag.is_empty() || tag.contains(['"', '\n', '\\']) {
                    return Err(format!("exclusions: {tag:?} is not a tag"));
                }
            }
            for target in &exclusion.targets {
                // One target each: a `|` would add targets instead of removing one.
                let single = !target.contains(['|', '!', '&', '"', '\n', '\\', ' ', '\t'])
                    && parse_single_target(target).is_ok();
                if !single {
                    return Err(format!(
                        "exclusions: {target:?} is not one target such as ARGS:name"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The SecActions that set the CRS's variables from these settings,
    /// loaded between crs-setup and the rules.
    pub fn setup_rules(&self) -> String {
        let mut setvars = vec![
            format!("setvar:tx.blocking_paranoia_level={}", self.paranoia_level),
            format!(
                "setvar:tx.detection_paranoia_level={}",
                self.detection_paranoia_level.unwrap_or(self.paranoia_level)
            ),
            format!(
                "setvar:tx.inbound_anomaly_score_threshold={}",
                self.inbound_threshold
            ),
            format!(
                "setvar:tx.outbound_anomaly_score_threshold={}",
                self.outbound_threshold
            ),
        ];
        for (name, value) in &self.crs_variables {
            setvars.push(format!("setvar:'tx.{}={value}'", name.to_ascii_lowercase()));
        }
        // A body its processor cannot parse is refused (as ModSecurity's
        // recommended configuration does): otherwise its arguments would
        // go uninspected.
        format!(
            "SecAction \"id:{SETTINGS_RULE_ID},phase:1,pass,nolog,{}\"\n\
             SecRule REQBODY_ERROR \"!@eq 0\" \"id:{BODY_ERROR_RULE_ID},phase:2,deny,status:400,log,\
             msg:'Request body could not be parsed'\"\n",
            setvars.join(",")
        )
    }

    /// The SecLang for the exclusions, loaded after the rules.
    pub fn exclusion_rules(&self) -> String {
        let mut text = String::new();
        for exclusion in &self.exclusions {
            let targets: Vec<String> = exclusion.targets.iter().map(|t| format!("!{t}")).collect();
            let targets = targets.join("|");
            if exclusion.targets.is_empty() {
                if !exclusion.rule_ids.is_empty() {
                    let _ = writeln!(text, "SecRuleRemoveById {}", exclusion.rule_ids.join(" "));
                }
                for tag in &exclusion.tags {
                    let _ = writeln!(text, "SecRuleRemoveByTag \"{tag}\"");
                }
                continue;
            }
            for id in &exclusion.rule_ids {
                let _ = writeln!(text, "SecRuleUpdateTargetById {id} \"{targets}\"");
            }
            for tag in &exclusion.tags {
                let _ = writeln!(text, "SecRuleUpdateTargetByTag \"{tag}\" \"{targets}\"");
            }
            if exclusion.rule_ids.is_empty() && exclusion.tags.is_empty() {
                let _ = writeln!(text, "SecRuleUpdateTargetByTag \"OWASP_CRS\" \"{targets}\"");
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: &str) -> Settings {
        serde_json::from_str(json).expect("settings parse")
    }

    #[test]
    fn setup_sets_the_crs_variables() {
        let s = settings(
            r#"{"rules_dir":"/crs","paranoia_level":2,"crs_variables":{"allowed_methods":"GET POST"}}"#,
        );
        s.check().expect("valid");
        let text = s.setup_rules();
        assert!(text.contains("tx.blocking_paranoia_level=2"));
        assert!(text.contains("tx.detection_paranoia_level=2"));
        assert!(text.contains("'tx.allowed_methods=GET POST'"));
    }

    #[test]
    fn exclusions_become_removals_and_target_updates() {
        let s = settings(
            r#"{"rules_dir":"/crs","exclusions":[
                {"rule_ids":["942100","942200-942210"]},
                {"tags":["attack-sqli"],"targets":["ARGS:q"]},
                {"targets":["REQUEST_COOKIES:session"]}]}"#,
        );
        let text = s.exclusion_rules();
        assert!(text.contains("SecRuleRemoveById 942100 942200-942210\n"));
        assert!(text.contains("SecRuleUpdateTargetByTag \"attack-sqli\" \"!ARGS:q\"\n"));
        assert!(
            text.contains("SecRuleUpdateTargetByTag \"OWASP_CRS\" \"!REQUEST_COOKIES:session\"\n")
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(
            settings(r#"{"rules_dir":"/crs","paranoia_level":5}"#)
                .check()
                .is_err()
        );
        assert!(
            settings(r#"{"rules_dir":"/crs","crs_variables":{"x":"a'b"}}"#)
                .check()
                .is_err()
        );
        assert!(
            settings(r#"{"rules_dir":"/crs","exclusions":[{}]}"#)
                .check()
                .is_err()
        );
    }
}
