//! Per-transaction cache of transformed values and of which prefilter
//! groups they hold: many rules share a transformation list, so each
//! (value, list) pair is transformed and scanned once however many rules
//! inspect it, and a rule's target none of whose values holds the rule's
//! literals is skipped without looking at each.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Deref;
use std::rc::Rc;

use crate::prefilter::{Prefilter, has_group};
use crate::rule::Rule;
use crate::ruleset::RuleSet;
use crate::transform::TransformChain;
use crate::variable::Variable;

/// A value after a link's transformations.
pub enum Transformed<'v> {
    Unchanged(&'v [u8]),
    Changed(Rc<[u8]>),
}

impl Deref for Transformed<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Transformed::Unchanged(value) => value,
            Transformed::Changed(value) => value,
        }
    }
}

#[derive(Default)]
struct Entry {
    /// None when the transformations left the value as it was.
    value: Option<Rc<[u8]>>,
    /// Which prefilter groups' literals the transformed value holds.
    groups: Option<GroupSet>,
}

/// A set of prefilter groups: where its words start in the cache's arena.
#[derive(Clone, Copy)]
struct GroupSet(usize);

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<SlotHasher>>;

/// Calls its second argument with every value of the given fixed variable.
pub type AllValues<'a> = dyn Fn(Variable, &mut dyn FnMut(Option<u32>, &[u8])) + 'a;

/// What is known of a fixed value before any transformation.
#[derive(Default)]
struct Raw {
    /// Its byte classes (see [`crate::transform::trigger`]), once known.
    classes: Option<u32>,
    /// The prefilter groups it holds, once scanned.
    groups: Option<GroupSet>,
}

#[derive(Default)]
pub struct TransformCache {
    /// (slot, transformation list) to the transformed value.
    entries: RefCell<FastMap<u64, Entry>>,
    /// What each slot's untransformed value holds, by the slot's store
    /// and index (slots are dense: no hashing on the hottest path).
    raw: RefCell<Vec<Vec<Raw>>>,
    /// (transformation list, variable) to the groups present in any of
    /// the variable's values.
    unions: RefCell<FastMap<u32, GroupSet>>,
    /// Variable to the byte classes of all its values together and the
    /// groups present in any of them untransformed: the union for every
    /// list whose scan steps those classes leave alone.
    raw_unions: RefCell<FastMap<u32, (u32, GroupSet)>>,
    /// The words of every group set, one after the other: a few hundred
    /// sets a request, each of a few words, in one allocation.
    arena: RefCell<Vec<u64>>,
    /// The transformed values of each slot scanned so far.
    scanned: RefCell<ScannedValues>,
}

/// Several transformation lists often make the same value of a slot
/// (`+44 20` decoded alike by six lists, spaces removed alike by four):
/// each distinct value is scanned once.
#[derive(Default)]
struct ScannedValues {
    /// Each slot's latest entry in `values`.
    latest: FastMap<u32, u32>,
    /// A transformed value, its groups, and its slot's entry before it.
    values: Vec<(Rc<[u8]>, GroupSet, Option<u32>)>,
}

impl TransformCache {
    /// Forget what was learnt about the request as a whole: values were
    /// added (the body's arguments, files, XML), none of those cached
    /// changed. Each value keeps its transformations and scans.
    pub fn forget_unions(&self) {
        // Their words stay in the arena, unreferenced, until `clear`.
        self.unions.borrow_mut().clear();
        self.raw_unions.borrow_mut().clear();
    }

    /// Forget everything; the room grown for it stays.
    pub fn clear(&self) {
        self.entries.borrow_mut().clear();
        for values in self.raw.borrow_mut().iter_mut() {
            values.clear();
        }
        self.unions.borrow_mut().clear();
        self.raw_unions.borrow_mut().clear();
        self.arena.borrow_mut().clear();
        let mut scanned = self.scanned.borrow_mut();
        scanned.latest.clear();
        scanned.values.clear();
    }

    /// Whether the room this cache has grown is small enough to keep for
    /// another transaction: one unusually large request's should not stay
    /// held.
    pub fn is_modest(&self) -> bool {
        const MOST_ENTRIES: usize = 1 << 14;
        const MOST_ARENA_WORDS: usize = 1 << 16;
        const MOST_SLOTS: usize = 1 << 14;
        self.entries.borrow().capacity() <= MOST_ENTRIES
            && self.unions.borrow().capacity() <= MOST_ENTRIES
            && self.raw_unions.borrow().capacity() <= MOST_ENTRIES
            && self.arena.borrow().capacity() <= MOST_ARENA_WORDS
            && self.scanned.borrow().values.capacity() <= MOST_ENTRIES
            && self.raw.borrow().iter().map(Vec::capacity).sum::<usize>() <= MOST_SLOTS
    }

    /// Whether `link` can match any value of its target `variable`: false
    /// only when the variable is fixed and none of its values holds the
    /// link's literals, so the target's values need no look each. Each
    /// (list, variable) union is worked out once per request part.
    pub fn target_may_match(
        &self,
        rules: &RuleSet,
        link: &Rule,
        variable: Variable,
        all_values: &AllValues<'_>,
    ) -> bool {
        let Some(prefilter) = rules.prefilter() else {
            return true;
        };
        if link.prefilter.is_empty() || link.negated || !variable.is_fixed() {
            return true;
        }
        if link.actions.multi_match {
            // Every multiMatch link with a prefilter has its step lists.
            return link.step_prefixes.is_empty()
                || link.step_prefixes.iter().any(|chain| {
                    let union = self.variable_union(prefilter, chain, variable, all_values);
                    self.has_all(union, &link.prefilter)
                });
        }
        let union = self.variable_union(prefilter, &link.transforms, variable, all_values);
        self.has_all(union, &link.prefilter)
    }

    /// For a `multiMatch` link: whether the prefilter rules out every
    /// form of the value the operator would see.
    pub fn rules_out_every_step(
        &self,
        rules: &RuleSet,
        link: &Rule,
        slot: Option<u32>,
        value: &[u8],
    ) -> bool {
        let (Some(prefilter), Some(slot)) = (rules.prefilter(), slot) else {
            return false;
        };
        if link.step_prefixes.is_empty() || link.negated {
            return false;
        }
        link.step_prefixes.iter().all(|chain| {
            let (_, groups) = self.classes_and_groups(prefilter, chain, slot, value);
            !self.has_all(groups, &link.prefilter)
        })
    }

    /// Whether `set` holds every one of `groups`.
    fn has_all(&self, set: GroupSet, groups: &[u32]) -> bool {
        let arena = self.arena.borrow();
        groups
            .iter()
            .all(|group| has_group(&arena[set.0..], *group))
    }

    /// Stores `words` in the arena.
    fn store(&self, words: &[u64]) -> GroupSet {
        let mut arena = self.arena.borrow_mut();
        let at = arena.len();
        arena.extend_from_slice(words);
        GroupSet(at)
    }

    /// The groups present in any value of `variable` after `chain`'s scan
    /// steps.
    fn variable_union(
        &self,
        prefilter: &Prefilter,
        chain: &TransformChain,
        variable: Variable,
        all_values: &AllValues<'_>,
    ) -> GroupSet {
        let key = u32::from(chain.scan_id) << 8 | variable as u32;
        if let Some(union) = self.unions.borrow().get(&key) {
            return *union;
        }
        // Most lists change no value of a variable: they share its
        // untransformed union, worked out once.
        let (classes, raw_union) = self.raw_union(prefilter, variable, all_values);
        let union = if chain.scan_leaves(classes) {
            raw_union
        } else {
            self.union_of_values(prefilter, chain, variable, all_values)
                .1
        };
        self.unions.borrow_mut().insert(key, union);
        union
    }

    /// The byte classes of all of `variable`'s values and the groups in
    /// any of them untransformed.
    fn raw_union(
        &self,
        prefilter: &Prefilter,
        variable: Variable,
        all_values: &AllValues<'_>,
    ) -> (u32, GroupSet) {
        let key = variable as u32;
        if let Some(known) = self.raw_unions.borrow().get(&key) {
            return *known;
        }
        let none = TransformChain::new(Vec::new());
        let known = self.union_of_values(prefilter, &none, variable, all_values);
        self.raw_unions.borrow_mut().insert(key, known);
        known
    }

    /// The byte classes of `variable`'s values as they are, and the groups
    /// present in any of them after `chain`'s scan steps, value by value.
    fn union_of_values(
        &self,
        prefilter: &Prefilter,
        chain: &TransformChain,
        variable: Variable,
        all_values: &AllValues<'_>,
    ) -> (u32, GroupSet) {
        let words = prefilter.words();
        let mut classes = 0;
        let mut union = vec![0u64; words];
        all_values(variable, &mut |slot, value| match slot {
            Some(slot) => {
                let (value_classes, groups) =
                    self.classes_and_groups(prefilter, chain, slot, value);
                classes |= value_classes;
                let arena = self.arena.borrow();
                let bits = &arena[groups.0..][..words];
                for (word, bits) in union.iter_mut().zip(bits) {
                    *word |= bits;
                }
            }
            // A value past the slot numbers (16 million into a
            // collection) is not cached: it may hold anything.
            None => {
                classes |= crate::transform::trigger::classes(value);
                union.fill(u64::MAX);
            }
        });
        (classes, self.store(&union))
    }

    /// `value` transformed by `link`'s list, and whether the link's
    /// prefilter rules a match out. Values without a slot change during the
    /// transaction and are transformed afresh.
    pub fn prepare<'v>(
        &self,
        rules: &RuleSet,
        link: &Rule,
        slot: Option<u32>,
        value: &'v [u8],
    ) -> (Transformed<'v>, bool) {
        let Some(slot) = slot else {
            let transformed = match link.transforms.apply(value) {
                Cow::Borrowed(value) => Transformed::Unchanged(value),
                Cow::Owned(value) => Transformed::Changed(Rc::from(value)),
            };
            return (transformed, false);
        };
        let (classes, ruled_out) = match rules.prefilter() {
            Some(prefilter) if !link.prefilter.is_empty() => {
                let (classes, groups) =
                    self.classes_and_groups(prefilter, &link.transforms, slot, value);
                (classes, !self.has_all(groups, &link.prefilter))
            }
            _ => (self.classes(slot, value), false),
        };
        if ruled_out {
            return (Transformed::Unchanged(value), true);
        }
        if link.transforms.leaves(classes) {
            return (Transformed::Unchanged(value), false);
        }
        let mut entries = self.entries.borrow_mut();
        let entry = entries
            .entry(key(slot, &link.transforms))
            .or_insert_with(|| entry(link.transforms.apply(value)));
        let transformed = match &entry.value {
            Some(changed) => Transformed::Changed(changed.clone()),
            None => Transformed::Unchanged(value),
        };
        (transformed, ruled_out)
    }

    /// The value's byte classes and the groups present in it after
    /// `chain`'s scan steps (the untransformed value's scan when they change
    /// nothing, else a scan of its own), from one look at what is known of
    /// the untransformed value. The hottest path: it runs for every value
    /// of every union and of every rule a union let through.
    fn classes_and_groups(
        &self,
        prefilter: &Prefilter,
        chain: &TransformChain,
        slot: u32,
        value: &[u8],
    ) -> (u32, GroupSet) {
        let (classes, known) = {
            let mut raw = self.raw.borrow_mut();
            let entry = Self::raw_entry(&mut raw, slot);
            let classes = *entry
                .classes
                .get_or_insert_with(|| crate::transform::trigger::classes(value));
            (classes, entry.groups)
        };
        if !chain.scan_leaves(classes) {
            return (classes, self.changed_groups(prefilter, chain, slot, value));
        }
        let groups = match known {
            Some(groups) => groups,
            None => self.raw_groups(prefilter, slot, value),
        };
        (classes, groups)
    }

    /// The groups of [`Self::classes_and_groups`] for a value the scan steps may change.
    fn changed_groups(
        &self,
        prefilter: &Prefilter,
        chain: &TransformChain,
        slot: u32,
        value: &[u8],
    ) -> GroupSet {
        let key = u64::from(slot) << 16 | u64::from(chain.scan_id);
        let changed = {
            let mut entries = self.entries.borrow_mut();
            let entry = entries
                .entry(key)
                .or_insert_with(|| entry(chain.apply_scan_steps(value)));
            if let Some(groups) = entry.groups {
                return groups;
            }
            entry.value.clone()
        };
        // The scan ignores ASCII case: a value the steps only lowercased
        // (`t:cmdLine`, or `t:lowercase` kept for a later step that reads
        // case) holds the untransformed value's groups.
        let groups = match changed {
            Some(changed) if !changed.eq_ignore_ascii_case(value) => {
                self.scan_transformed(prefilter, slot, changed)
            }
            _ => self.raw_groups(prefilter, slot, value),
        };
        if let Some(entry) = self.entries.borrow_mut().get_mut(&key) {
            entry.groups = Some(groups);
        }
        groups
    }

    /// The groups in `changed`, a transformed value of `slot`: those of
    /// an equal value (ignoring ASCII case, as the scan does) another list
    /// made of the slot, else a scan of its own.
    fn scan_transformed(&self, prefilter: &Prefilter, slot: u32, changed: Rc<[u8]>) -> GroupSet {
        {
            let scanned = self.scanned.borrow();
            let mut next = scanned.latest.get(&slot).copied();
            while let Some(at) = next {
                let (value, groups, previous) = &scanned.values[at as usize];
                if value.eq_ignore_ascii_case(&changed) {
                    return *groups;
                }
                next = *previous;
            }
        }
        let groups = self.scan(prefilter, &changed);
        let mut scanned = self.scanned.borrow_mut();
        let at = scanned.values.len() as u32;
        let previous = scanned.latest.insert(slot, at);
        scanned.values.push((changed, groups, previous));
        groups
    }

    /// The prefilter's groups in `bytes`, stored in the arena.
    fn scan(&self, prefilter: &Prefilter, bytes: &[u8]) -> GroupSet {
        let mut arena = self.arena.borrow_mut();
        let at = arena.len();
        arena.resize(at + prefilter.words(), 0);
        prefilter.scan_into(bytes, &mut arena[at..]);
        GroupSet(at)
    }

    fn raw_entry(raw: &mut Vec<Vec<Raw>>, slot: u32) -> &mut Raw {
        let (store, index) = ((slot >> 24) as usize, (slot & 0xff_ffff) as usize);
        if raw.len() <= store {
            raw.resize_with(store + 1, Vec::new);
        }
        let values = &mut raw[store];
        if values.len() <= index {
            values.resize_with(index + 1, Raw::default);
        }
        &mut values[index]
    }

    fn classes(&self, slot: u32, value: &[u8]) -> u32 {
        *Self::raw_entry(&mut self.raw.borrow_mut(), slot)
            .classes
            .get_or_insert_with(|| crate::transform::trigger::classes(value))
    }

    fn raw_groups(&self, prefilter: &Prefilter, slot: u32, value: &[u8]) -> GroupSet {
        if let Some(groups) = Self::raw_entry(&mut self.raw.borrow_mut(), slot).groups {
            return groups;
        }
        let groups = self.scan(prefilter, value);
        Self::raw_entry(&mut self.raw.borrow_mut(), slot).groups = Some(groups);
        groups
    }
}

fn key(slot: u32, chain: &TransformChain) -> u64 {
    u64::from(slot) << 16 | u64::from(chain.id)
}

/// A cache entry for a value as transformed (borrowed when unchanged).
fn entry(transformed: Cow<'_, [u8]>) -> Entry {
    Entry {
        value: match transformed {
            Cow::Borrowed(_) => None,
            Cow::Owned(changed) => Some(Rc::from(changed)),
        },
        groups: None,
    }
}

/// Slot keys are small distinct integers: a multiply-rotate hash is enough
/// and far cheaper than SipHash.
#[derive(Default)]
pub struct SlotHasher(u64);

impl Hasher for SlotHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u16(&mut self, value: u16) {
        self.write_u64(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}
