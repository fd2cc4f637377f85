//! Literal prefilters: most rules cannot match most values, and saying so
//! costs one multi-literal scan per (value, transformation list) instead of
//! one regex search per (value, rule).
//!
//! Every match of a regular expression starts with one of its prefix
//! literals (or ends with one of its suffix literals), when the set is
//! finite. All such rules share one case-insensitive Aho-Corasick automaton
//! over their literals; scanning a value once tells which rules may match it
//! (and a value the rule's transformations leave unchanged needs no second
//! scan). ASCII-case-insensitive search only widens the set, so a rule it
//! rules out cannot match. A phrase list (`@pm`) is its own literal set:
//! the scan answers it exactly, so a value holding none of its phrases is
//! not searched again, and the list's own automaton is built only for a
//! value that holds one.

use std::collections::HashMap;

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous;
use aho_corasick::{Anchored, MatchKind};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind};

/// A one-byte literal that is a letter, digit or space occurs in nearly
/// every value: a set holding one filters nothing and is not worth a scan.
fn too_common(literal: &[u8]) -> bool {
    matches!(literal, [byte] if byte.is_ascii_alphanumeric() || *byte == b' ')
}

/// `(?i)` turns each letter into a two-byte class (`[Ss]`), and literal
/// extraction multiplies them out. The automaton ignores ASCII case anyway,
/// so fold such classes back into their lowercase letter first.
fn fold_case_classes(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Class(Class::Bytes(class)) => {
            let ranges = class.ranges();
            if let [a, b] = ranges
                && a.start() == a.end()
                && b.start() == b.end()
                && a.start().is_ascii_uppercase()
                && b.start() == a.start().to_ascii_lowercase()
            {
                return Hir::literal([b.start()]);
            }
            Hir::class(Class::Bytes(class))
        }
        HirKind::Concat(parts) => Hir::concat(parts.into_iter().map(fold_case_classes).collect()),
        HirKind::Alternation(parts) => {
            Hir::alternation(parts.into_iter().map(fold_case_classes).collect())
        }
        HirKind::Repetition(mut repetition) => {
            let sub = std::mem::replace(&mut repetition.sub, Box::new(Hir::empty()));
            repetition.sub = Box::new(fold_case_classes(*sub));
            Hir::repetition(repetition)
        }
        HirKind::Capture(mut capture) => {
            let sub = std::mem::replace(&mut capture.sub, Box::new(Hir::empty()));
            capture.sub = Box::new(fold_case_classes(*sub));
            Hir::capture(capture)
        }
        HirKind::Class(class) => Hir::class(class),
        HirKind::Literal(literal) => Hir::literal(literal.0),
        HirKind::Look(look) => Hir::look(look),
        HirKind::Empty => Hir::empty(),
    }
}

/// The literals any match of a parsed pattern must start (or end) with,
/// lowercase; None when they cannot be bounded usefully.
fn best_literals(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let mut candidates = vec![necessary(hir)];
    for kind in [ExtractKind::Prefix, ExtractKind::Suffix] {
        let mut extractor = Extractor::new();
        extractor
            .kind(kind)
            .limit_class(8)
            .limit_repeat(8)
            .limit_literal_len(16)
            .limit_total(MAX_LITERALS);
        let seq = extractor.extract(hir);
        candidates.push(seq.literals().map(|literals| {
            literals
                .iter()
                .map(|literal| literal.as_bytes().to_vec())
                .collect()
        }));
    }
    candidates
        .into_iter()
        .flatten()
        .filter_map(usable)
        .max_by_key(|literals| quality(literals))
}

/// The literal sets every match of `pattern` needs one of each of: the
/// best set [`best_literals`] finds, then up to [`MOST_MORE_SETS`]
/// more from the other parts of a top-level concatenation (`on[a-z]+=`
/// needs `on` and `=`). A value missing any set cannot match. Empty when
/// not even one set bounds the pattern.
pub fn required_literal_sets(pattern: &str) -> Vec<Vec<Vec<u8>>> {
    let Some(hir) = parse(pattern) else {
        return Vec::new();
    };
    let Some(best) = best_literals(&hir) else {
        return Vec::new();
    };
    let mut sets = vec![best];
    let mut top = &hir;
    while let HirKind::Capture(capture) = top.kind() {
        top = &capture.sub;
    }
    if let HirKind::Concat(parts) = top.kind() {
        let mut more: Vec<Vec<Vec<u8>>> = Vec::new();
        for literals in parts.iter().filter_map(necessary).filter_map(usable) {
            if !sets.contains(&literals) && !more.contains(&literals) {
                more.push(literals);
            }
        }
        more.sort_by_key(|literals| std::cmp::Reverse(quality(literals)));
        sets.extend(more.into_iter().take(MOST_MORE_SETS));
    }
    sets
}

/// Most sets a regex adds beside its best: each costs a group in every
/// scan's bit set.
const MOST_MORE_SETS: usize = 2;

/// `pattern` as the literal extraction reads it: bytes, ASCII case
/// classes folded to their lowercase letter.
fn parse(pattern: &str) -> Option<Hir> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?;
    Some(fold_case_classes(hir))
}

/// Most literals one regex may add to the automaton.
const MAX_LITERALS: usize = 256;

/// Most phrases one `@pm` list may add to the automaton. Building the
/// automaton briefly takes several times its final size, and a plugin
/// instance's memory never shrinks. With lists of up to 512 phrases the
/// heap peaked at 9.5 MB over a first benign request; with every request
/// list (LFI file names, 1,201; Unix commands; restricted files) at 10.5
/// MB, for 3% fewer instructions a request: those lists run on every
/// argument, and their own automata are then built only when the
/// prefilter finds one of their phrases. The response lists (PHP errors,
/// 2,127) keep their own automaton.
const MAX_PHRASES: usize = 1300;

/// An `@pm` list's phrases as prefilter literals: the list matches exactly
/// when one of them occurs, ignoring ASCII case, as the automaton looks.
/// None when the list is too long, or holds a phrase too common to filter.
pub fn phrase_literals(phrases: &[String]) -> Option<Vec<Vec<u8>>> {
    if phrases.len() > MAX_PHRASES {
        return None;
    }
    let literals = phrases.iter().map(|p| p.as_bytes().to_vec()).collect();
    usable_up_to(literals, MAX_PHRASES)
}

/// A regex's literals, lowercased, deduplicated, or None if the set would
/// filter nothing.
fn usable(literals: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    usable_up_to(literals, MAX_LITERALS)
}

/// Lowercased, deduplicated, or None if the set would filter nothing or
/// holds more than `most` literals.
fn usable_up_to(literals: Vec<Vec<u8>>, most: usize) -> Option<Vec<Vec<u8>>> {
    let mut lowered: Vec<Vec<u8>> = literals.iter().map(|l| l.to_ascii_lowercase()).collect();
    lowered.sort();
    lowered.dedup();
    let useless = lowered.is_empty()
        || lowered.len() > most
        || lowered
            .iter()
            .any(|literal| literal.is_empty() || too_common(literal));
    (!useless).then_some(lowered)
}

/// Longer shortest literals filter better; then fewer literals.
fn quality(literals: &[Vec<u8>]) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = literals.iter().map(Vec::len).min().unwrap_or(0);
    (shortest.min(8), std::cmp::Reverse(literals.len()))
}

/// Literals of which every match contains at least one: a literal is
/// itself, a small class each of its bytes, a concatenation its best part,
/// an alternation the union of its branches, a repetition its body when it
/// must occur at least once. Anything that may match empty gives None.
fn necessary(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Literal(literal) => Some(vec![literal.0.to_vec()]),
        HirKind::Class(Class::Bytes(class)) => {
            let count: usize = class
                .ranges()
                .iter()
                .map(|r| usize::from(r.end() - r.start()) + 1)
                .sum();
            (count <= 16).then(|| {
                class
                    .ranges()
                    .iter()
                    .flat_map(|r| r.start()..=r.end())
                    .map(|byte| vec![byte])
                    .collect()
            })
        }
        HirKind::Class(Class::Unicode(_)) | HirKind::Look(_) | HirKind::Empty => None,
        HirKind::Capture(capture) => necessary(&capture.sub),
        HirKind::Repetition(repetition) if repetition.min >= 1 => necessary(&repetition.sub),
        HirKind::Repetition(_) => None,
        HirKind::Concat(parts) => parts
            .iter()
            .filter_map(necessary)
            .filter_map(usable)
            .max_by_key(|literals| quality(literals)),
        HirKind::Alternation(branches) => {
            let mut union = Vec::new();
            for branch in branches {
                union.extend(necessary(branch)?);
                if union.len() > MAX_LITERALS {
                    return None;
                }
            }
            Some(union)
        }
    }
}

/// One automaton over the literals of every prefiltered rule, and a byte
/// table for the one-byte literals (`<`, `'`, `;` ...): they occur in most
/// values, and the automaton would report every occurrence of each.
#[derive(Debug)]
pub struct Prefilter {
    /// Literals of two bytes or more; None when there are none. Stepped
    /// by [`Prefilter::scan_into`] itself: `AhoCorasick`'s overlapping
    /// iterator leaves and re-enters the (boxed) automaton at every match.
    automaton: Option<contiguous::NFA>,
    /// For each automaton pattern, where in `ending_sets` the groups of
    /// every literal that ends where it ends (it and its suffixes) start.
    ending_set_of_pattern: Vec<u32>,
    /// Group bit sets, [`Prefilter::words`] long each, one after another.
    ending_sets: Vec<u64>,
    /// Literals in the automaton, one per (group, literal).
    patterns: usize,
    /// For each byte, where in `byte_sets` the groups it is a one-byte
    /// literal of (either case) start; [`NO_SET`] for most bytes.
    set_of_byte: Box<[u32; 256]>,
    byte_sets: Vec<u64>,
    groups: usize,
}

impl Prefilter {
    /// `groups[i]` are the literals of group `i`.
    pub fn build(groups: &[Vec<Vec<u8>>]) -> Option<Self> {
        let words = groups.len().div_ceil(64);
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        // Each literal (lowercase) of two bytes or more, with its groups.
        let mut groups_of_literal: HashMap<Vec<u8>, Vec<u64>> = HashMap::new();
        let mut set_of_byte = Box::new([NO_SET; 256]);
        let mut byte_sets: Vec<u64> = Vec::new();
        for (group, literals) in groups.iter().enumerate() {
            for literal in literals {
                if let [byte] = literal.as_slice() {
                    let lower = usize::from(byte.to_ascii_lowercase());
                    if set_of_byte[lower] == NO_SET {
                        set_of_byte[lower] = byte_sets.len() as u32;
                        byte_sets.resize(byte_sets.len() + words, 0);
                    }
                    let at = set_of_byte[lower] as usize;
                    set_group(&mut byte_sets[at..at + words], group);
                    set_of_byte[usize::from(byte.to_ascii_uppercase())] = set_of_byte[lower];
                } else {
                    let literal = literal.to_ascii_lowercase();
                    let bits = groups_of_literal
                        .entry(literal.clone())
                        .or_insert_with(|| vec![0; words]);
                    set_group(bits, group);
                    patterns.push(literal);
                }
            }
        }
        let (ending_set_of_pattern, ending_sets) =
            ending_sets(&patterns, &groups_of_literal, words);
        let automaton = if patterns.is_empty() {
            None
        } else {
            Some(
                contiguous::NFA::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)
                    .ok()?,
            )
        };
        Some(Prefilter {
            automaton,
            ending_set_of_pattern,
            ending_sets,
            patterns: patterns.len(),
            set_of_byte,
            byte_sets,
            groups: groups.len(),
        })
    }

    /// Bytes the automaton, its match sets and the byte table take.
    pub fn memory_usage(&self) -> usize {
        let table = 256 * 4 + self.byte_sets.len() * 8;
        let sets = self.ending_set_of_pattern.len() * 4 + self.ending_sets.len() * 8;
        self.automaton.as_ref().map_or(0, |nfa| nfa.memory_usage()) + table + sets
    }

    /// Literals in the automaton and the byte table.
    pub fn literals(&self) -> usize {
        let single: usize = self
            .byte_sets
            .iter()
            .map(|word| word.count_ones() as usize)
            .sum();
        self.patterns + single
    }

    /// Words in a group bit set.
    pub fn words(&self) -> usize {
        self.groups.div_ceil(64)
    }

    /// The groups with a literal somewhere in `value`, as a bit set.
    pub fn scan(&self, value: &[u8]) -> Vec<u64> {
        let mut bits = vec![0u64; self.words()];
        self.scan_into(value, &mut bits);
        bits
    }

    /// [`Prefilter::scan`] into `bits` ([`Prefilter::words`] long, zeroed).
    pub fn scan_into(&self, value: &[u8], bits: &mut [u64]) {
        let words = bits.len();
        if !self.byte_sets.is_empty() {
            for &byte in value {
                let at = self.set_of_byte[usize::from(byte)];
                if at != NO_SET {
                    let set = &self.byte_sets[at as usize..][..words];
                    for (word, group_bits) in bits.iter_mut().zip(set) {
                        *word |= group_bits;
                    }
                }
            }
        }
        let Some(automaton) = &self.automaton else {
            return;
        };
        // An unanchored standard search: every literal ending at a byte is
        // a match of the state reached there (the automaton copies matches
        // along failure links), and no state is dead. A state's matches
        // are its own literal's and then those of the literals that are
        // suffixes of it: the first match names them all, so one set
        // worked out when the prefilter was built stands for the list.
        let Ok(mut state) = automaton.start_state(Anchored::No) else {
            bits.fill(u64::MAX);
            return;
        };
        for &byte in value {
            state = automaton.next_state(Anchored::No, state, byte);
            if !automaton.is_match(state) {
                continue;
            }
            let pattern = automaton.match_pattern(state, 0).as_usize();
            let at = self.ending_set_of_pattern[pattern] as usize;
            for (word, set) in bits.iter_mut().zip(&self.ending_sets[at..at + words]) {
                *word |= set;
            }
        }
    }
}

/// For each pattern, the groups of every literal that is a suffix of it
/// (itself included): all a state where it ends matches. Equal sets are
/// stored once; the result is (each pattern's set's start, the sets).
fn ending_sets(
    patterns: &[Vec<u8>],
    groups_of_literal: &HashMap<Vec<u8>, Vec<u64>>,
    words: usize,
) -> (Vec<u32>, Vec<u64>) {
    let mut starts: HashMap<Vec<u64>, u32> = HashMap::new();
    let mut sets = Vec::new();
    let mut set_of_pattern = Vec::with_capacity(patterns.len());
    for literal in patterns {
        let mut set = vec![0u64; words];
        for start in 0..literal.len() - 1 {
            if let Some(groups) = groups_of_literal.get(&literal[start..]) {
                for (word, bits) in set.iter_mut().zip(groups) {
                    *word |= bits;
                }
            }
        }
        let start = *starts.entry(set).or_insert_with_key(|set| {
            let start = sets.len() as u32;
            sets.extend_from_slice(set);
            start
        });
        set_of_pattern.push(start);
    }
    (set_of_pattern, sets)
}

/// No one-byte literal is this byte.
const NO_SET: u32 = u32::MAX;

fn set_group(bits: &mut [u64], group: usize) {
    bits[group / 64] |= 1 << (group % 64);
}

pub fn has_group(bits: &[u64], group: u32) -> bool {
    let group = group as usize;
    bits.get(group / 64)
        .is_some_and(|word| word & (1 << (group % 64)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The best set alone, as a regex's first group gets it.
    fn required_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
        required_literal_sets(pattern).into_iter().next()
    }

    #[test]
    fn literals_of_alternations_and_case_insensitive_words() {
        let literals = required_literals("(?i)\\b(?:select|union)\\b").expect("bounded");
        assert!(literals.contains(&b"select".to_vec()));
        assert!(literals.contains(&b"union".to_vec()));
        assert_eq!(literals.len(), 2);
    }

    #[test]
    fn each_part_of_a_concatenation_may_add_a_set() {
        let sets = required_literal_sets("(?i)[ ,;]on[a-z]{3,50}[ ,;]*?=[^=]");
        assert!(
            sets[0].iter().all(|literal| literal.ends_with(b"on")),
            "{sets:?}"
        );
        assert!(sets.contains(&vec![b"=".to_vec()]), "{sets:?}");
        assert!(sets.len() <= 1 + MOST_MORE_SETS);
        // A set that is the best one already is not repeated.
        assert_eq!(
            required_literal_sets("(?i)union select"),
            vec![vec![b"union select".to_vec()]]
        );
        assert!(required_literal_sets("[a-z]+").is_empty());
    }

    #[test]
    fn unbounded_patterns_have_no_prefilter() {
        assert_eq!(required_literals("[a-z]+"), None);
        let inner = required_literals("^[^!&]*\\)[ ]*(?:=|~)").expect("bounded");
        assert!(inner.contains(&b")=".to_vec()), "{inner:?}");
        assert!(required_literals("[^a]+(?:x|\\(y)z").is_some());
        assert_eq!(required_literals(".*x"), None);
        assert_eq!(required_literals("a"), None);
        assert_eq!(
            required_literals("<").expect("bounded"),
            vec![b"<".to_vec()]
        );
    }

    #[test]
    fn phrase_lists_are_literals_unless_one_is_too_common() {
        let list = |phrases: &[&str]| phrases.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        assert_eq!(
            phrase_literals(&list(&["/etc/Passwd", "boot.ini", "/ETC/passwd"])),
            Some(vec![b"/etc/passwd".to_vec(), b"boot.ini".to_vec()])
        );
        assert_eq!(
            phrase_literals(&list(&["(", ")"])).map(|l| l.len()),
            Some(2)
        );
        assert_eq!(phrase_literals(&list(&["x", "eval("])), None);
        assert_eq!(phrase_literals(&list(&[])), None);
        let long: Vec<String> = (0..=MAX_PHRASES).map(|n| format!("phrase{n}")).collect();
        assert_eq!(phrase_literals(&long), None);
    }

    #[test]
    fn scanning_marks_the_groups_present() {
        let filter = Prefilter::build(&[vec![b"select".to_vec()], vec![b"<script".to_vec()]])
            .expect("builds");
        let bits = filter.scan(b"1 SELECT 2");
        assert!(has_group(&bits, 0));
        assert!(!has_group(&bits, 1));
    }

    #[test]
    fn a_literal_that_ends_inside_another_marks_its_group() {
        let filter = Prefilter::build(&[
            vec![b"abcd".to_vec()],
            vec![b"bc".to_vec()],
            vec![b"tion".to_vec()],
            vec![b"on".to_vec(), b"zz".to_vec()],
        ])
        .expect("builds");
        let groups = |text: &[u8]| {
            let bits = filter.scan(text);
            (0..4).filter(|g| has_group(&bits, *g)).collect::<Vec<_>>()
        };
        assert_eq!(groups(b"ABCx"), vec![1]);
        assert_eq!(groups(b"xabcd"), vec![0, 1]);
        assert_eq!(groups(b"station"), vec![2, 3]);
        assert_eq!(groups(b"onion"), vec![3]);
        assert_eq!(groups(b"nothing here"), Vec::<u32>::new());
    }

    #[test]
    fn scanning_agrees_with_looking_for_each_literal() {
        // Literals and texts over a small alphabet overlap in every way:
        // prefixes, suffixes, repeats.
        let seed = std::cell::Cell::new(0x2545_f491_4f6c_dd1du64);
        let next = |below: u64| {
            let mut x = seed.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            seed.set(x);
            x % below
        };
        let word = |len: u64| -> Vec<u8> { (0..len).map(|_| b"abcAB"[next(5) as usize]).collect() };
        let groups: Vec<Vec<Vec<u8>>> = (0..70)
            .map(|_| (0..1 + next(3)).map(|_| word(1 + next(4))).collect())
            .collect();
        let filter = Prefilter::build(&groups).expect("builds");
        for _ in 0..300 {
            let text = word(next(24));
            let bits = filter.scan(&text);
            let lower = text.to_ascii_lowercase();
            for (group, literals) in groups.iter().enumerate() {
                let present = literals.iter().any(|literal| {
                    let literal = literal.to_ascii_lowercase();
                    lower
                        .windows(literal.len())
                        .any(|w| w == literal.as_slice())
                });
                assert_eq!(
                    has_group(&bits, group as u32),
                    present,
                    "group {group} {literals:?} in {text:?}"
                );
            }
        }
    }
}
