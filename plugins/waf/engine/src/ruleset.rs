//! Loading SecLang text into rules compiled once and laid out per phase.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::operator::Operator;
use crate::parse::{actions::parse_actions, directives::directives, targets};
use crate::prefilter::{self, Prefilter};
use crate::rule::{Disruptive, Rule};
use crate::transform::{Transform, TransformChain};

/// Why a rule file was refused: the file, the line and the reason.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

/// One position in a phase's rule list.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step {
    /// Index into `RuleSet::rules`; None for a marker.
    pub rule: Option<usize>,
    /// Where a matching rule's `skipAfter` continues in this phase.
    pub skip_to: Option<usize>,
}

/// Every loaded rule, compiled, with one ordered list per phase.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    pub(crate) phases: [Vec<Step>; 6],
    pub(crate) default_disruptive: [Option<Disruptive>; 6],
    /// One automaton over the literal groups of every prefiltered link,
    /// built by the first request that needs it (see [`LazyPrefilter`]).
    prefilter: LazyPrefilter,
    /// Markers and rules in load order, before phase lists are built.
    order: Vec<Entry>,
    by_id: HashMap<u32, usize>,
    chain_ids: HashMap<Vec<Transform>, u16>,
}

#[derive(Debug)]
enum Entry {
    Marker(String),
    Rule(usize),
}

/// Directives that configure a web server's ModSecurity rather than rules;
/// the gateway's own settings take their place.
const SERVER_DIRECTIVES: &[&str] = &[
    "SecRuleEngine",
    "SecRequestBodyAccess",
    "SecResponseBodyAccess",
    "SecRequestBodyLimit",
    "SecRequestBodyNoFilesLimit",
    "SecRequestBodyLimitAction",
    "SecResponseBodyLimit",
    "SecResponseBodyLimitAction",
    "SecResponseBodyMimeType",
    "SecComponentSignature",
    "SecCollectionTimeout",
    "SecAuditEngine",
    "SecAuditLog",
    "SecAuditLogParts",
    "SecAuditLogType",
    "SecAuditLogRelevantStatus",
    "SecDebugLog",
    "SecDebugLogLevel",
    "SecTmpDir",
    "SecDataDir",
    "SecArgumentSeparator",
    "SecCookieFormat",
    "SecUnicodeMapFile",
    "SecStatusEngine",
    "SecPcreMatchLimit",
    "SecPcreMatchLimitRecursion",
    "SecArgumentsLimit",
    "SecRequestBodyJsonDepthLimit",
];

impl RuleSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads one file's text; `data_dir` is where its `@pmFromFile` lists are.
    pub fn add(&mut self, file: &str, text: &str, data_dir: &Path) -> Result<(), LoadError> {
        let error = |line: usize, reason: String| LoadError {
            file: file.to_string(),
            line,
            reason,
        };
        let parsed = directives(text).map_err(|(line, reason)| error(line, reason))?;
        let mut open_chain: Option<(usize, usize)> = None;
        for directive in parsed {
            let line = directive.line;
            let arg = |index: usize| {
                directive
                    .args
                    .get(index)
                    .map(String::as_str)
                    .ok_or_else(|| error(line, format!("{} needs more arguments", directive.name)))
            };
            match directive.name.as_str() {
                "SecRule" | "SecAction" => {
                    let rule = if directive.name == "SecRule" {
                        self.compile_rule(
                            arg(0)?,
                            arg(1)?,
                            directive.args.get(2).map(String::as_str),
                            data_dir,
                        )
                    } else {
                        self.compile_action(arg(0)?)
                    }
                    .map_err(|reason| error(line, reason))?;
                    let chains_on = rule.actions.chain;
                    match open_chain.take() {
                        Some((owner, depth)) => {
                            attach_link(&mut self.rules[owner], rule, depth);
                            if chains_on {
                                open_chain = Some((owner, depth + 1));
                            }
                        }
                        None => {
                            if rule.id() == 0 {
                                return Err(error(line, "a rule needs an id".into()));
                            }
                            if self.by_id.contains_key(&rule.id()) {
                                return Err(error(line, format!("id:{} is used twice", rule.id())));
                            }
                            let index = self.rules.len();
                            self.by_id.insert(rule.id(), index);
                            self.rules.push(rule);
                            self.order.push(Entry::Rule(index));
                            if chains_on {
                                open_chain = Some((index, 1));
                            }
                        }
                    }
                }
                "SecMarker" => self
                    .order
                    .push(Entry::Marker(arg(0)?.trim_matches('\'').to_string())),
                "SecDefaultAction" => {
                    let actions = parse_actions(arg(0)?).map_err(|reason| error(line, reason))?;
                    let phase = usize::from(actions.phase.unwrap_or(2));
                    self.default_disruptive[phase] = actions.disruptive;
                }
                "SecRuleUpdateTargetById" => {
                    let ids =
                        crate::parse::actions::id_range(arg(0)?).map_err(|r| error(line, r))?;
                    let written = arg(1)?;
                    for rule in self.rules.iter_mut().filter(|r| ids.contains(r.id())) {
                        update_targets(rule, written).map_err(|reason| error(line, reason))?;
                    }
                }
                "SecRuleUpdateTargetByTag" => {
                    let tag = arg(0)?;
                    let written = arg(1)?;
                    for rule in self.rules.iter_mut().filter(|r| r.has_tag(tag)) {
                        update_targets(rule, written).map_err(|reason| error(line, reason))?;
                    }
                }
                "SecRuleRemoveById" => {
                    for range in &directive.args {
                        let ids =
                            crate::parse::actions::id_range(range).map_err(|r| error(line, r))?;
                        self.remove_where(|rule| ids.contains(rule.id()));
                    }
                }
                "SecRuleRemoveByTag" => {
                    let tag = arg(0)?.to_string();
                    self.remove_where(|rule| rule.has_tag(&tag));
                }
                name if SERVER_DIRECTIVES.contains(&name) => {}
                other => return Err(error(line, format!("{other}: unknown directive"))),
            }
        }
        if open_chain.is_some() {
            return Err(error(0, "the file ends inside a chain".into()));
        }
        Ok(())
    }

    /// Loads `*.conf` files of a directory in name order, as Include does
    /// with a wildcard, reading `.data` files from the same directory.
    pub fn add_dir(&mut self, dir: &Path) -> Result<(), LoadError> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|error| LoadError {
                file: dir.display().to_string(),
                line: 0,
                reason: error.to_string(),
            })?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "conf"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|error| LoadError {
                file: path.display().to_string(),
                line: 0,
                reason: error.to_string(),
            })?;
            self.add(&path.display().to_string(), &text, dir)?;
        }
        Ok(())
    }

    /// Lays the rules out per phase with `skipAfter` resolved. Call after
    /// the last `add`.
    pub fn finish(&mut self) -> Result<(), LoadError> {
        for phase in 1..=5u8 {
            let mut steps = Vec::new();
            let mut marker_names: HashMap<usize, &str> = HashMap::new();
            for entry in &self.order {
                match entry {
                    Entry::Marker(name) => {
                        marker_names.insert(steps.len(), name.as_str());
                        steps.push(Step {
                            rule: None,
                            skip_to: None,
                        });
                    }
                    Entry::Rule(index)
                        if self.rules[*index].actions.phase.unwrap_or(2) == phase =>
                    {
                        steps.push(Step {
                            rule: Some(*index),
                            skip_to: None,
                        });
                    }
                    Entry::Rule(_) => {}
                }
            }
            // Each skipAfter goes to the first marker of that name after its
            // rule (never back: a loop could not end); a marker that never
            // follows skips to the end of the phase, as ModSecurity does.
            let mut following: HashMap<&str, usize> = HashMap::new();
            for position in (0..steps.len()).rev() {
                match steps[position].rule {
                    None => {
                        if let Some(name) = marker_names.get(&position) {
                            following.insert(name, position);
                        }
                    }
                    Some(index) => {
                        if let Some(marker) = &self.rules[index].actions.skip_after {
                            steps[position].skip_to = Some(
                                following
                                    .get(marker.as_str())
                                    .copied()
                                    .unwrap_or(usize::MAX),
                            );
                        }
                    }
                }
            }
            self.phases[usize::from(phase)] = steps;
        }
        self.build_prefilters();
        Ok(())
    }

    /// Gives every regex link whose matches need one of a bounded set of
    /// literals a group in the automaton over all of them for each such
    /// set (see [`prefilter::required_literal_sets`]), and every phrase
    /// list short enough (see [`prefilter::phrase_literals`]) one group.
    fn build_prefilters(&mut self) {
        let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
        for rule in &mut self.rules {
            let mut link = Some(rule);
            while let Some(current) = link {
                current.prefilter.clear();
                current.step_prefixes.clear();
                let mut sets = match &current.operator {
                    Operator::Rx(regex) => prefilter::required_literal_sets(regex.as_str()),
                    Operator::Pm(phrases) => prefilter::phrase_literals(phrases.phrases())
                        .into_iter()
                        .collect(),
                    _ => Vec::new(),
                };
                if current.actions.multi_match && !sets.is_empty() {
                    // A step that changes every value (`base64Decode`) makes
                    // each of them forms to transform and scan which cost
                    // more than the operator's own look; such links are not
                    // prefiltered.
                    let changes_every_value =
                        current.transforms.triggers & crate::transform::trigger::ALWAYS != 0;
                    if changes_every_value {
                        sets.clear();
                    } else {
                        current.step_prefixes =
                            step_prefixes(&mut self.chain_ids, &current.transforms);
                    }
                }
                for literals in sets {
                    current.prefilter.push(groups.len() as u32);
                    groups.push(literals);
                }
                link = current.chained.as_deref_mut();
            }
        }
        self.prefilter = LazyPrefilter::new(groups);
    }

    /// The prefilter, built now if it was not; None if it could not be
    /// (then nothing is ruled out).
    pub(crate) fn prefilter(&self) -> Option<&Prefilter> {
        self.prefilter.get()
    }

    /// The prefilter's literal count and size in bytes.
    pub fn prefilter_size(&self) -> (usize, usize) {
        self.prefilter()
            .map_or((0, 0), |p| (p.literals(), p.memory_usage()))
    }

    /// How many regex and phrase-list links (chained ones included) have a
    /// literal prefilter, of how many.
    pub fn prefilter_coverage(&self) -> (usize, usize) {
        let (mut covered, mut total) = (0, 0);
        for rule in &self.rules {
            let mut link = Some(rule);
            while let Some(current) = link {
                if matches!(current.operator, Operator::Rx(_) | Operator::Pm(_)) {
                    total += 1;
                    covered += usize::from(!current.prefilter.is_empty());
                }
                link = current.chained.as_deref();
            }
        }
        (covered, total)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every rule id, in load order.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.rules.iter().map(Rule::id)
    }

    fn remove_where(&mut self, doomed: impl Fn(&Rule) -> bool) {
        let rules = &self.rules;
        self.order.retain(|entry| match entry {
            Entry::Rule(index) => !doomed(&rules[*index]),
            Entry::Marker(_) => true,
        });
    }

    fn compile_rule(
        &mut self,
        targets_text: &str,
        operator_text: &str,
        actions_text: Option<&str>,
        data_dir: &Path,
    ) -> Result<Rule, String> {
        let targets = targets::parse_targets(targets_text)?;
        let (operator, negated) = Operator::compile(operator_text, data_dir)
            .map_err(|reason| format!("{reason} (in \"{}\")", short(operator_text)))?;
        let actions = parse_actions(actions_text.unwrap_or(""))?;
        let transforms = self.intern(actions.transforms.clone());
        Ok(Rule {
            targets,
            operator,
            negated,
            transforms,
            actions,
            chained: None,
            unconditional: false,
            prefilter: Vec::new(),
            step_prefixes: Vec::new(),
        })
    }

    fn compile_action(&mut self, actions_text: &str) -> Result<Rule, String> {
        let actions = parse_actions(actions_text)?;
        let transforms = self.intern(None);
        Ok(Rule {
            targets: Vec::new(),
            operator: Operator::Unconditional,
            negated: false,
            transforms,
            actions,
            chained: None,
            unconditional: true,
            prefilter: Vec::new(),
            step_prefixes: Vec::new(),
        })
    }

    fn intern(&mut self, chain: Option<TransformChain>) -> TransformChain {
        intern(
            &mut self.chain_ids,
            chain.unwrap_or_else(|| TransformChain::new(Vec::new())),
        )
    }
}

/// Numbers each distinct transformation list so values transformed the
/// same way can share a cache entry.
fn intern(ids: &mut HashMap<Vec<Transform>, u16>, mut chain: TransformChain) -> TransformChain {
    let next = ids.len() as u16;
    chain.id = *ids.entry(chain.steps.clone()).or_insert(next);
    let next = ids.len() as u16;
    chain.scan_id = *ids.entry(chain.scan_steps.clone()).or_insert(next);
    chain
}

/// The lists that make each value a `multiMatch` operator sees: none of
/// `chain`'s steps, then its first, its first two ... Lists the scan cannot
/// tell apart (they differ by lowercasing alone) are given once.
fn step_prefixes(
    ids: &mut HashMap<Vec<Transform>, u16>,
    chain: &TransformChain,
) -> Vec<TransformChain> {
    let mut prefixes: Vec<TransformChain> = Vec::new();
    for end in 0..=chain.steps.len() {
        let prefix = intern(ids, TransformChain::new(chain.steps[..end].to_vec()));
        if !prefixes.iter().any(|known| known.scan_id == prefix.scan_id) {
            prefixes.push(prefix);
        }
    }
    prefixes
}

fn attach_link(owner: &mut Rule, link: Rule, depth: usize) {
    let mut slot = &mut owner.chained;
    for _ in 1..depth {
        match slot {
            Some(next) => slot = &mut next.chained,
            None => break,
        }
    }
    *slot = Some(Box::new(link));
}

/// `SecRuleUpdateTargetById`: `!VAR:key` excludes, anything else adds.
fn update_targets(rule: &mut Rule, written: &str) -> Result<(), String> {
    for target in targets::parse_written_list(written)? {
        if target.negated {
            targets::add_exclusion(&mut rule.targets, target.variable, target.selector);
        } else if !rule
            .targets
            .iter()
            .any(|t| t.variable == target.variable && t.selector.same_as(&target.selector))
        {
            rule.targets.push(crate::rule::Target {
                variable: target.variable,
                selector: target.selector,
                count: target.count,
                exclusions: Vec::new(),
            });
        }
    }
    Ok(())
}

fn short(text: &str) -> String {
    text.chars().take(60).collect()
}

/// The prefilter's literal groups, built into the automaton at first use.
/// Building takes several times the automaton's final size for a moment,
/// and a plugin instance's memory never shrinks: built while the rules
/// loaded, that moment stayed in every idle WAF instance (a gateway with
/// every built-in plugin idled at 62-64 MiB, against 51.6-51.8 MiB built
/// at first use). Built by the first request, the moment falls among the
/// patterns and lists that request compiles anyway, and costs it about
/// 24 ms natively.
#[derive(Debug, Default)]
struct LazyPrefilter {
    groups: std::sync::Mutex<Vec<Vec<Vec<u8>>>>,
    built: std::sync::OnceLock<Option<Prefilter>>,
}

impl LazyPrefilter {
    fn new(groups: Vec<Vec<Vec<u8>>>) -> Self {
        LazyPrefilter {
            groups: std::sync::Mutex::new(groups),
            built: std::sync::OnceLock::new(),
        }
    }

    fn get(&self) -> Option<&Prefilter> {
        self.built
            .get_or_init(|| {
                // The groups are needed once: give their memory back.
                let groups = std::mem::take(
                    &mut *self
                        .groups
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()),
                );
                Prefilter::build(&groups)
            })
            .as_ref()
    }
}
