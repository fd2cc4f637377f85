//! One request's run through the rules: its variables, its TX collection,
//! what matched, and whether it must be stopped.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::body;
use crate::macros::MacroSource;
use crate::operator::{Captures, leading_integer};
use crate::recycled_cache::RecycledCache;
use crate::request::{RequestData, RequestHead};
use crate::rule::{
    BodyProcessor, Ctl, Disruptive, EngineMode, IdRange, Phase, Rule, Selector, SetVarOp,
};
use crate::ruleset::RuleSet;
use crate::variable::Variable;

/// A rule that matched and logs.
#[derive(Debug, Clone)]
pub struct Detection {
    pub rule_id: u32,
    pub phase: Phase,
    pub severity: Option<u8>,
    pub message: String,
    /// The rule's `logdata`, expanded. It may quote request data: callers
    /// that log it must bound and redact it.
    pub data: String,
    /// Where the last match was, e.g. `ARGS:q`.
    pub location: String,
}

/// The transaction must be stopped with this status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interruption {
    pub status: u16,
    pub rule_id: u32,
}

#[derive(Debug)]
struct Matched {
    name: Vec<u8>,
    value: Vec<u8>,
    captures: Option<Captures>,
}

/// Rules and targets removed for this transaction by `ctl` actions.
#[derive(Debug, Default)]
struct Removals {
    ids: Vec<IdRange>,
    tags: Vec<String>,
    targets_by_id: Vec<(IdRange, Variable, Selector)>,
    targets_by_tag: Vec<(String, Variable, Selector)>,
}

impl Removals {
    fn removes(&self, rule: &Rule) -> bool {
        self.ids.iter().any(|range| range.contains(rule.id()))
            || self.tags.iter().any(|tag| rule.has_tag(tag))
    }

    /// Selectors removed from `variable` for `owner` (the chain's first rule).
    fn target_removals<'a>(&'a self, owner: &Rule, variable: Variable) -> Vec<&'a Selector> {
        let by_id = self
            .targets_by_id
            .iter()
            .filter(|(range, var, _)| *var == variable && range.contains(owner.id()))
            .map(|(_, _, selector)| selector);
        let by_tag = self
            .targets_by_tag
            .iter()
            .filter(|(tag, var, _)| *var == variable && owner.has_tag(tag))
            .map(|(_, _, selector)| selector);
        by_id.chain(by_tag).collect()
    }

    fn is_empty(&self) -> bool {
        self.targets_by_id.is_empty() && self.targets_by_tag.is_empty()
    }
}

pub struct Transaction<'r> {
    rules: &'r RuleSet,
    state: State,
    cache: RecycledCache,
}

/// What a transaction has gathered and decided so far: its variables, TX,
/// `ctl` changes and detections.
#[derive(Debug)]
struct State {
    data: RequestData,
    tx: BTreeMap<Vec<u8>, Vec<u8>>,
    mode: EngineMode,
    processor: Option<BodyProcessor>,
    /// `ctl:forceRequestBodyVariable`: REQUEST_BODY holds a body no
    /// processor claimed.
    force_body_variable: bool,
    removals: Removals,
    matched_var: Vec<u8>,
    matched_var_name: Vec<u8>,
    /// The previous chain link's matches, which the next link may inspect.
    matched_vars: Vec<(Vec<u8>, Vec<u8>)>,
    detections: Vec<Detection>,
    interruption: Option<Interruption>,
    allowed: bool,
}

/// A transaction between two calls, detached from its rule set: what the
/// phases run so far left, so a caller that handles the phases in separate
/// calls can go on without running the earlier ones again.
#[derive(Debug)]
pub struct Suspended {
    state: State,
    /// Where the transaction's transformation cache waits on the thread
    /// that suspended it; None when it was not kept.
    cache_ticket: Option<u64>,
}

impl Suspended {
    /// The request head the transaction was started with.
    pub fn head(&self) -> &RequestHead {
        &self.state.data.head
    }
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("mode", &self.state.mode)
            .field("detections", &self.state.detections)
            .field("interruption", &self.state.interruption)
            .finish_non_exhaustive()
    }
}

impl<'r> Transaction<'r> {
    pub fn new(rules: &'r RuleSet, head: RequestHead, mode: EngineMode) -> Self {
        let data = RequestData::new(head);
        let processor = data.header(b"content-type").and_then(body::processor_for);
        Transaction {
            rules,
            state: State {
                data,
                tx: BTreeMap::new(),
                mode,
                processor,
                force_body_variable: false,
                removals: Removals::default(),
                matched_var: Vec::new(),
                matched_var_name: Vec::new(),
                matched_vars: Vec::new(),
                detections: Vec::new(),
                interruption: None,
                allowed: false,
            },
            cache: RecycledCache::take(),
        }
    }

    /// Detaches the transaction from its rule set; see [`Suspended`].
    pub fn suspend(self) -> Suspended {
        Suspended {
            state: self.state,
            cache_ticket: self.cache.park(),
        }
    }

    /// Goes on with a suspended transaction over `rules`, which must be
    /// the rule set it ran under.
    pub fn resume(rules: &'r RuleSet, suspended: Suspended) -> Self {
        Transaction {
            rules,
            state: suspended.state,
            cache: match suspended.cache_ticket {
                Some(ticket) => RecycledCache::unpark(ticket),
                None => RecycledCache::take(),
            },
        }
    }

    /// Phase 1: request line and headers.
    pub fn request_headers(&mut self) {
        self.run_phase(1);
    }

    /// Phase 2: parses `body` with the chosen processor, then runs the
    /// request-body rules. Call it with an empty body for requests without one:
    /// the CRS decides on blocking in this phase.
    pub fn request_body(&mut self, body: &[u8]) {
        if self.state.mode == EngineMode::Off {
            return;
        }
        self.state.data.read_body(body, self.state.processor);
        // Reading the body adds values (ARGS_POST, FILES, XML ...) but
        // changes none phase 1 saw: their cache entries stay right.
        self.cache.forget_unions();
        self.run_phase(2);
    }

    /// Phase 3: response status and headers.
    pub fn response_headers(
        &mut self,
        status: u16,
        protocol: &str,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
    ) {
        self.state.data.response_status = status.to_string().into_bytes();
        self.state.data.response_protocol = protocol.as_bytes().to_vec();
        self.state.data.response_headers = headers;
        self.cache.clear();
        self.run_phase(3);
    }

    /// Phase 4: response body.
    pub fn response_body(&mut self, body: &[u8]) {
        self.state.data.response_body = body.to_vec();
        self.run_phase(4);
    }

    /// Phase 5: logging rules (correlation).
    pub fn logging(&mut self) {
        let stopped = self.state.interruption.take();
        let allowed = std::mem::take(&mut self.state.allowed);
        self.run_phase(5);
        self.state.interruption = stopped;
        self.state.allowed = allowed;
    }

    pub fn detections(&self) -> &[Detection] {
        &self.state.detections
    }

    /// Forgets what matched so far (the variables stay).
    pub fn clear_detections(&mut self) {
        self.state.detections.clear();
    }

    pub fn interruption(&self) -> Option<Interruption> {
        self.state.interruption
    }

    pub fn mode(&self) -> EngineMode {
        self.state.mode
    }

    /// A TX variable (name lowercase), e.g. the CRS's `blocking_inbound_anomaly_score`.
    pub fn tx(&self, name: &str) -> Option<&[u8]> {
        self.state.tx.get(name.as_bytes()).map(Vec::as_slice)
    }

    /// Sets a TX variable, as `setvar:tx.NAME=VALUE` would.
    pub fn set_tx(&mut self, name: &str, value: &str) {
        self.state.tx.insert(
            name.to_ascii_lowercase().into_bytes(),
            value.as_bytes().to_vec(),
        );
    }

    /// A TX variable read as an integer (0 when unset).
    pub fn tx_number(&self, name: &str) -> i64 {
        self.tx(name).map_or(0, leading_integer)
    }

    fn run_phase(&mut self, phase: Phase) {
        if self.state.mode == EngineMode::Off
            || self.state.allowed
            || self.state.interruption.is_some()
        {
            return;
        }
        let rules = self.rules;
        let steps = &rules.phases[usize::from(phase)];
        let mut position = 0;
        while position < steps.len() {
            let step = steps[position];
            if let Some(index) = step.rule {
                let rule = &rules.rules[index];
                if !self.state.removals.removes(rule) && self.evaluate(rule, phase) {
                    if self.state.interruption.is_some() || self.state.allowed {
                        return;
                    }
                    if let Some(next) = step.skip_to {
                        position = next;
                        continue;
                    }
                }
            }
            position += 1;
        }
    }

    /// Runs a rule and its chain. As in ModSecurity, each link's
    /// non-disruptive actions run as soon as it matches, once per matching
    /// value (the next link may read what they set); logging and the
    /// disruptive action wait for the whole chain.
    fn evaluate(&mut self, rule: &'r Rule, phase: Phase) -> bool {
        let mut link = rule;
        loop {
            let matches = self.match_link(rule, link);
            if matches.is_empty() {
                return false;
            }
            for matched in &matches {
                self.remember(matched);
                self.run_actions(link);
            }
            self.state.matched_vars.clear();
            self.state
                .matched_vars
                .extend(matches.into_iter().map(|m| (m.name, m.value)));
            match &link.chained {
                Some(next) => link = next,
                None => break,
            }
        }
        if rule.logs() {
            self.state.detections.push(Detection {
                rule_id: rule.id(),
                phase,
                severity: rule.actions.severity,
                message: self.expand_text(rule.actions.msg.as_ref()),
                data: self.expand_text(rule.actions.logdata.as_ref()),
                location: String::from_utf8_lossy(&self.state.matched_var_name).into_owned(),
            });
        }
        self.disrupt(rule, phase);
        true
    }

    fn remember(&mut self, matched: &Matched) {
        self.state.matched_var.clone_from(&matched.value);
        self.state.matched_var_name.clone_from(&matched.name);
        if let Some(captures) = &matched.captures {
            // TX:0 to TX:9, set again by every capture: their room is reused.
            const NAMES: [&[u8]; 10] = [b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9"];
            for (name, group) in NAMES.iter().zip(captures) {
                match self.state.tx.get_mut(*name) {
                    Some(value) => value.clone_from(group),
                    None => {
                        self.state.tx.insert(name.to_vec(), group.clone());
                    }
                }
            }
        }
    }

    fn expand_text(&self, text: Option<&crate::macros::MacroString>) -> String {
        text.map(|t| String::from_utf8_lossy(&t.expand(self)).into_owned())
            .unwrap_or_default()
    }

    fn disrupt(&mut self, rule: &Rule, phase: Phase) {
        let action = match rule.actions.disruptive {
            Some(Disruptive::Block) | None => self.rules.default_disruptive[usize::from(phase)],
            other => other,
        };
        if self.state.mode != EngineMode::On {
            return;
        }
        match action {
            Some(Disruptive::Deny | Disruptive::Drop) => {
                self.state.interruption = Some(Interruption {
                    status: rule.actions.status.unwrap_or(403),
                    rule_id: rule.id(),
                });
            }
            Some(Disruptive::Allow) => self.state.allowed = true,
            Some(Disruptive::Pass | Disruptive::Block) | None => {}
        }
    }

    fn run_actions(&mut self, link: &Rule) {
        for setvar in &link.actions.setvars {
            if !setvar.transient {
                continue;
            }
            let mut name = setvar.name.expand(self).into_owned();
            name.make_ascii_lowercase();
            match &setvar.op {
                SetVarOp::Set(value) => {
                    let value = value.expand(self).into_owned();
                    self.state.tx.insert(name, value);
                }
                SetVarOp::Add(amount) | SetVarOp::Subtract(amount) => {
                    let amount = leading_integer(&amount.expand(self));
                    let current = self.state.tx.get(&name).map_or(0, |v| leading_integer(v));
                    let next = if matches!(setvar.op, SetVarOp::Add(_)) {
                        current.saturating_add(amount)
                    } else {
                        current.saturating_sub(amount)
                    };
                    self.state.tx.insert(name, next.to_string().into_bytes());
                }
                SetVarOp::Delete => {
                    self.state.tx.remove(&name);
                }
            }
        }
        for ctl in &link.actions.ctls {
            match ctl {
                Ctl::RuleEngine(mode) => self.state.mode = *mode,
                Ctl::RuleRemoveById(range) => self.state.removals.ids.push(*range),
                Ctl::RuleRemoveByTag(tag) => self.state.removals.tags.push(tag.clone()),
                Ctl::RuleRemoveTargetById(range, variable, selector) => self
                    .state
                    .removals
                    .targets_by_id
                    .push((*range, *variable, selector.clone())),
                Ctl::RuleRemoveTargetByTag(tag, variable, selector) => self
                    .state
                    .removals
                    .targets_by_tag
                    .push((tag.clone(), *variable, selector.clone())),
                Ctl::RequestBodyProcessor(processor) => self.state.processor = Some(*processor),
                Ctl::ForceRequestBodyVariable(on) => self.state.force_body_variable = *on,
                Ctl::Ignored => {}
            }
        }
    }

    /// Every value of `link`'s targets that passes its operator.
    fn match_link(&self, owner: &Rule, link: &Rule) -> Vec<Matched> {
        if link.unconditional {
            return vec![Matched {
                name: Vec::new(),
                value: Vec::new(),
                captures: None,
            }];
        }
        let all_values = |variable: Variable, each: &mut dyn FnMut(Option<u32>, &[u8])| {
            self.each_fixed_value(variable, each)
        };
        let mut matches = Vec::new();
        let want_captures = link.actions.capture;
        for target in &link.targets {
            // A target none of whose values holds the link's literals
            // cannot match: its values need no look each.
            if !target.count
                && !self
                    .cache
                    .target_may_match(self.rules, link, target.variable, &all_values)
            {
                continue;
            }
            let removed = if self.state.removals.is_empty() {
                Vec::new()
            } else {
                self.state.removals.target_removals(owner, target.variable)
            };
            let mut test = |slot: Option<u32>, name: &dyn Fn() -> Vec<u8>, value: &[u8]| {
                let mut captures = want_captures.then(Vec::new);
                let (hit, transformed) = if link.actions.multi_match {
                    if self
                        .cache
                        .rules_out_every_step(self.rules, link, slot, value)
                    {
                        return;
                    }
                    let hit = link.transforms.any_step(value, |candidate| {
                        link.operator.matches(candidate, self, captures.as_mut()) != link.negated
                    });
                    (hit, None)
                } else {
                    let (transformed, ruled_out) =
                        self.cache.prepare(self.rules, link, slot, value);
                    let found =
                        !ruled_out && link.operator.matches(&transformed, self, captures.as_mut());
                    (found != link.negated, Some(transformed))
                };
                if hit {
                    let value = match transformed {
                        Some(transformed) => transformed.to_vec(),
                        None => link.transforms.apply(value).into_owned(),
                    };
                    matches.push(Matched {
                        name: name(),
                        value,
                        captures: captures.filter(|c| !c.is_empty()),
                    });
                }
            };
            if target.count {
                let mut count = 0usize;
                self.visit(target.variable, &target.selector, &mut |_, key, _| {
                    if !target.excludes(key) && !removed.iter().any(|s| s.accepts(key)) {
                        count += 1;
                    }
                });
                let label = || format!("&{}", target.variable.name()).into_bytes();
                test(None, &label, count.to_string().as_bytes());
                continue;
            }
            self.visit(
                target.variable,
                &target.selector,
                &mut |slot, key, value| {
                    if target.excludes(key) || removed.iter().any(|s| s.accepts(key)) {
                        return;
                    }
                    let name = || qualified_name(target.variable, key);
                    test(slot, &name, value);
                },
            );
        }
        matches
    }

    /// Calls `each(slot, value)` for every value of `variable` (a fixed
    /// one, see [`Variable::is_fixed`]), XML's attributes included.
    fn each_fixed_value(&self, variable: Variable, each: &mut dyn FnMut(Option<u32>, &[u8])) {
        self.visit(variable, &Selector::All, &mut |slot, _, value| {
            each(slot, value)
        });
        if variable == Variable::Xml {
            let attributes = Selector::Key(b"//@*".to_vec());
            self.visit(Variable::Xml, &attributes, &mut |slot, _, value| {
                each(slot, value)
            });
        }
    }

    /// Calls `each(slot, key, value)` for every member of `variable` the
    /// selector accepts; single-valued variables have an empty key. `slot`
    /// names a value that stays the same for the rest of the request part
    /// being inspected, so its transformations can be cached.
    fn visit(&self, variable: Variable, selector: &Selector, each: &mut Visitor<'_>) {
        let data = &self.state.data;
        let pairs = |store: u32, list: &[(Vec<u8>, Vec<u8>)], each: &mut Visitor<'_>| {
            for (index, (key, value)) in list.iter().enumerate() {
                if selector.accepts(key) {
                    each(slot(store, index), key, value);
                }
            }
        };
        let names = |store: u32, list: &[(Vec<u8>, Vec<u8>)], each: &mut Visitor<'_>| {
            for (index, (key, _)) in list.iter().enumerate() {
                if selector.accepts(key) {
                    each(slot(store | NAMES, index), key, key);
                }
            }
        };
        let fixed = |each: &mut Visitor<'_>, value: &[u8]| {
            each(slot(SCALARS, variable as usize), b"", value)
        };
        let mut changing = |value: &[u8]| each(None, b"", value);
        match variable {
            Variable::Args => {
                pairs(ARGS_GET, &data.args_get, each);
                pairs(ARGS_POST, &data.args_post, each);
            }
            Variable::ArgsNames => {
                names(ARGS_GET, &data.args_get, each);
                names(ARGS_POST, &data.args_post, each);
            }
            Variable::ArgsGet => pairs(ARGS_GET, &data.args_get, each),
            Variable::ArgsGetNames => names(ARGS_GET, &data.args_get, each),
            Variable::ArgsPost => pairs(ARGS_POST, &data.args_post, each),
            Variable::ArgsPostNames => names(ARGS_POST, &data.args_post, each),
            Variable::Files => pairs(FILES, &data.files, each),
            Variable::FilesNames => names(FILES, &data.files, each),
            Variable::FilesSizes => pairs(FILE_SIZES, &data.file_sizes, each),
            Variable::MultipartPartHeaders => pairs(PART_HEADERS, &data.part_headers, each),
            Variable::RequestHeaders => pairs(HEADERS, &data.head.headers, each),
            Variable::RequestHeadersNames => names(HEADERS, &data.head.headers, each),
            Variable::RequestCookies => pairs(COOKIES, &data.cookies, each),
            Variable::RequestCookiesNames => names(COOKIES, &data.cookies, each),
            Variable::ResponseHeaders => pairs(RESPONSE_HEADERS, &data.response_headers, each),
            Variable::ResponseHeadersNames => names(RESPONSE_HEADERS, &data.response_headers, each),
            Variable::Tx => match selector {
                // TX keys are stored lowercase, as selectors are.
                Selector::Key(key) => {
                    if let Some(value) = self.state.tx.get(key) {
                        each(None, key, value);
                    }
                }
                Selector::Prefix(prefix) => {
                    let from = self.state.tx.range::<[u8], _>((
                        std::ops::Bound::Included(prefix.as_slice()),
                        std::ops::Bound::Unbounded,
                    ));
                    for (key, value) in from.take_while(|(key, _)| key.starts_with(prefix)) {
                        each(None, key, value);
                    }
                }
                _ => {
                    for (key, value) in &self.state.tx {
                        if selector.accepts(key) {
                            each(None, key, value);
                        }
                    }
                }
            },
            Variable::MatchedVars => {
                for (key, value) in &self.state.matched_vars {
                    if selector.accepts(key) {
                        each(None, key, value);
                    }
                }
            }
            Variable::MatchedVarsNames => {
                for (key, _) in &self.state.matched_vars {
                    if selector.accepts(key) {
                        each(None, key, key);
                    }
                }
            }
            Variable::Xml => {
                let Some(xml) = &data.xml else { return };
                let attributes = matches!(selector, Selector::Key(path) if path.ends_with(b"@*"));
                if attributes {
                    for (index, value) in xml.attributes.iter().enumerate() {
                        each(slot(XML_ATTRIBUTES, index), b"//@*", value);
                    }
                } else {
                    each(slot(XML_TEXT, 0), b"/*", &xml.text);
                }
            }
            Variable::RequestFilename => fixed(each, &data.filename),
            Variable::RequestBasename => fixed(each, &data.basename),
            Variable::RequestLine => fixed(each, &data.line),
            Variable::RequestMethod => fixed(each, data.head.method.as_bytes()),
            Variable::RequestProtocol => fixed(each, data.head.protocol.as_bytes()),
            Variable::RequestUri => fixed(each, &data.uri),
            Variable::RequestUriRaw => fixed(each, data.head.target.as_bytes()),
            Variable::QueryString => fixed(each, &data.query),
            Variable::RemoteAddr => fixed(each, data.head.remote_addr.as_bytes()),
            Variable::UniqueId => fixed(each, data.head.unique_id.as_bytes()),
            Variable::ArgsCombinedSize => {
                changing(data.args_combined_size().to_string().as_bytes())
            }
            Variable::FilesCombinedSize => {
                changing(data.files_combined_size.to_string().as_bytes())
            }
            // The raw body is a variable for form and JSON bodies, and for
            // bodies no processor claimed when forced; XML and multipart are
            // inspected through their parts (the CRS suite expects both).
            Variable::RequestBody => match self.state.processor {
                Some(BodyProcessor::UrlEncoded | BodyProcessor::Json) => changing(&data.body),
                None if self.state.force_body_variable => changing(&data.body),
                _ => {}
            },
            Variable::RequestBodyLength => changing(data.body.len().to_string().as_bytes()),
            Variable::ReqbodyProcessor => changing(
                self.state
                    .processor
                    .map_or("", BodyProcessor::name)
                    .as_bytes(),
            ),
            Variable::ReqbodyError => changing(if data.body_error { b"1" } else { b"0" }),
            Variable::MatchedVar => changing(&self.state.matched_var),
            Variable::MatchedVarName => changing(&self.state.matched_var_name),
            Variable::ResponseStatus => changing(&data.response_status),
            Variable::ResponseProtocol => changing(&data.response_protocol),
            Variable::ResponseBody => changing(&data.response_body),
            Variable::ResponseContentType => {
                if let Some((_, value)) = data
                    .response_headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(b"content-type"))
                {
                    changing(value);
                }
            }
            Variable::Empty => {}
        }
    }
}

type Visitor<'a> = dyn FnMut(Option<u32>, &[u8], &[u8]) + 'a;

// Where a cached value comes from: a store, its names, or a fixed scalar.
const ARGS_GET: u32 = 1;
const ARGS_POST: u32 = 2;
const FILES: u32 = 3;
const FILE_SIZES: u32 = 4;
const PART_HEADERS: u32 = 5;
const HEADERS: u32 = 6;
const COOKIES: u32 = 7;
const RESPONSE_HEADERS: u32 = 8;
const XML_TEXT: u32 = 9;
const XML_ATTRIBUTES: u32 = 10;
const SCALARS: u32 = 11;
const NAMES: u32 = 16;

/// A value's cache slot: its store in the high byte, its index below.
fn slot(store: u32, index: usize) -> Option<u32> {
    u32::try_from(index)
        .ok()
        .filter(|index| *index < 1 << 24)
        .map(|index| store << 24 | index)
}

/// `ARGS:q`, `TX:score`, or just `REQUEST_URI` for single values.
fn qualified_name(variable: Variable, key: &[u8]) -> Vec<u8> {
    let mut name = variable.name().as_bytes().to_vec();
    if !key.is_empty() {
        name.push(b':');
        name.extend_from_slice(key);
    }
    name
}

impl MacroSource for Transaction<'_> {
    fn lookup(&self, variable: Variable, key: Option<&[u8]>) -> Option<Cow<'_, [u8]>> {
        if variable == Variable::Tx {
            return self.state.tx.get(key?).map(|v| Cow::Borrowed(v.as_slice()));
        }
        let selector = match key {
            Some(key) => Selector::Key(key.to_vec()),
            None => Selector::All,
        };
        let mut found = None;
        self.visit(variable, &selector, &mut |_, _, value| {
            if found.is_none() {
                found = Some(value.to_vec());
            }
        });
        found.map(Cow::Owned)
    }
}
