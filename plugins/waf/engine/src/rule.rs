//! A compiled rule: what it inspects, how it transforms and tests the values,
//! and what it does when it matches.

use crate::macros::MacroString;
use crate::operator::Operator;
use crate::transform::TransformChain;
use crate::variable::Variable;

/// The five SecLang phases; logging (5) never sees a request body change.
pub type Phase = u8;

/// Narrows a collection to some of its members.
#[derive(Debug, Clone)]
pub enum Selector {
    /// Every member.
    All,
    /// Members with this key, compared ASCII case-insensitively (stored lowercase).
    Key(Vec<u8>),
    /// Members whose key starts with this, compared ASCII
    /// case-insensitively (stored lowercase): a `/^literal/` pattern.
    Prefix(Vec<u8>),
    /// Members whose key matches this expression.
    Pattern(regex::bytes::Regex),
}

impl Selector {
    pub fn accepts(&self, key: &[u8]) -> bool {
        match self {
            Selector::All => true,
            Selector::Key(wanted) => wanted.eq_ignore_ascii_case(key),
            Selector::Prefix(prefix) => key
                .get(..prefix.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(prefix)),
            Selector::Pattern(pattern) => pattern.is_match(key),
        }
    }

    /// The selector as written in a rule, for exclusion by name.
    pub fn same_as(&self, other: &Selector) -> bool {
        match (self, other) {
            (Selector::All, Selector::All) => true,
            (Selector::Key(a), Selector::Key(b)) | (Selector::Prefix(a), Selector::Prefix(b)) => {
                a.eq_ignore_ascii_case(b)
            }
            (Selector::Pattern(a), Selector::Pattern(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

/// One entry of a rule's target list, with the `!VAR:key` exclusions that
/// name the same variable.
#[derive(Debug, Clone)]
pub struct Target {
    pub variable: Variable,
    pub selector: Selector,
    /// `&VAR`: the number of members, not their values.
    pub count: bool,
    pub exclusions: Vec<Selector>,
}

impl Target {
    pub fn excludes(&self, key: &[u8]) -> bool {
        self.exclusions
            .iter()
            .any(|exclusion| exclusion.accepts(key))
    }
}

/// What a `setvar` does to a TX variable.
#[derive(Debug, Clone)]
pub enum SetVarOp {
    Set(MacroString),
    Add(MacroString),
    Subtract(MacroString),
    Delete,
}

#[derive(Debug, Clone)]
pub struct SetVar {
    /// Only TX is kept; setvars on other collections are accepted and ignored.
    pub transient: bool,
    pub name: MacroString,
    pub op: SetVarOp,
}

/// A range of rule ids, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub first: u32,
    pub last: u32,
}

impl IdRange {
    pub fn contains(&self, id: u32) -> bool {
        (self.first..=self.last).contains(&id)
    }
}

/// The `ctl` actions the CRS and per-route exclusions use.
#[derive(Debug, Clone)]
pub enum Ctl {
    RuleEngine(EngineMode),
    RuleRemoveById(IdRange),
    RuleRemoveByTag(String),
    RuleRemoveTargetById(IdRange, Variable, Selector),
    RuleRemoveTargetByTag(String, Variable, Selector),
    RequestBodyProcessor(BodyProcessor),
    ForceRequestBodyVariable(bool),
    /// Controls this engine has no part for (audit logging, ...).
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineMode {
    On,
    DetectionOnly,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyProcessor {
    UrlEncoded,
    Multipart,
    Json,
    Xml,
}

impl BodyProcessor {
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "URLENCODED" => Some(Self::UrlEncoded),
            "MULTIPART" => Some(Self::Multipart),
            "JSON" => Some(Self::Json),
            "XML" => Some(Self::Xml),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::UrlEncoded => "URLENCODED",
            Self::Multipart => "MULTIPART",
            Self::Json => "JSON",
            Self::Xml => "XML",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disruptive {
    Pass,
    /// The phase's default disruptive action (SecDefaultAction).
    Block,
    Deny,
    Drop,
    /// Stop inspecting the rest of the transaction.
    Allow,
}

/// Everything after the operator, parsed once.
#[derive(Debug, Clone, Default)]
pub struct Actions {
    pub id: u32,
    pub phase: Option<Phase>,
    pub disruptive: Option<Disruptive>,
    pub status: Option<u16>,
    pub msg: Option<MacroString>,
    pub logdata: Option<MacroString>,
    pub tags: Vec<String>,
    pub severity: Option<u8>,
    pub capture: bool,
    pub multi_match: bool,
    /// None when the rule says neither `log` nor `nolog`.
    pub log: Option<bool>,
    pub chain: bool,
    pub skip_after: Option<String>,
    pub setvars: Vec<SetVar>,
    pub ctls: Vec<Ctl>,
    /// Explicit `t:` list, `t:none` already applied; None when the rule lists none.
    pub transforms: Option<TransformChain>,
}

/// One SecRule (or SecAction, with an always-matching operator and no targets).
#[derive(Debug)]
pub struct Rule {
    pub targets: Vec<Target>,
    pub operator: Operator,
    pub negated: bool,
    pub transforms: TransformChain,
    pub actions: Actions,
    /// The next link of a chain; its actions run only if every link matches.
    pub chained: Option<Box<Rule>>,
    /// A SecAction: matches once without inspecting anything.
    pub unconditional: bool,
    /// This link's literal groups in the rule set's prefilter: a value
    /// without a literal of every one of them cannot match. Empty when
    /// the link's literals cannot be bounded.
    pub prefilter: Vec<u32>,
    /// For a `multiMatch` link with a prefilter: a list for each value the
    /// operator sees (no step, the first step, the first two ...), so the
    /// prefilter can rule out a value none of whose forms holds the
    /// literals.
    pub step_prefixes: Vec<TransformChain>,
}

impl Rule {
    pub fn id(&self) -> u32 {
        self.actions.id
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.actions
            .tags
            .iter()
            .any(|own| own.eq_ignore_ascii_case(tag))
    }

    /// Whether the rule reports its matches (`nolog` rules still act).
    pub fn logs(&self) -> bool {
        self.actions.log.unwrap_or(true)
    }
}
