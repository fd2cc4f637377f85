//! The plugin's settings as the operator writes them.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// If not empty, only clients in these networks pass.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Clients in these networks never pass; checked first.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Method/path rules, checked in order after `deny`; the first match decides.
    #[serde(default)]
    pub rules: Vec<RuleSettings>,
    /// Status of the denial response.
    #[serde(default = "default_status")]
    pub status: u16,
    /// Body of the denial response.
    #[serde(default)]
    pub body: Option<String>,
    /// Content type of `body`.
    #[serde(default = "default_content_type")]
    pub content_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    /// Methods the rule applies to; all if empty.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Exact path the rule applies to.
    pub path: Option<String>,
    /// Path prefix (segment-aware) the rule applies to.
    pub path_prefix: Option<String>,
    /// Client networks the rule applies to; all if empty.
    #[serde(default)]
    pub cidrs: Vec<String>,
    /// What happens on a match.
    pub action: Action,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Deny,
}

fn default_status() -> u16 {
    403
}

fn default_content_type() -> String {
    "application/json".into()
}
