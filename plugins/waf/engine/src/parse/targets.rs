//! Parses a rule's target list (`ARGS|!ARGS:foo|&TX:x|REQUEST_HEADERS:/^x-/`).

use crate::rule::{Selector, Target};
use crate::variable::Variable;

/// One written entry before exclusions are attached to their variable.
#[derive(Debug)]
pub struct WrittenTarget {
    pub variable: Variable,
    pub selector: Selector,
    pub count: bool,
    pub negated: bool,
}

pub fn parse_targets(text: &str) -> Result<Vec<Target>, String> {
    let mut targets: Vec<Target> = Vec::new();
    let mut exclusions = Vec::new();
    for item in split_targets(text)? {
        let written = parse_written(&item)?;
        if written.negated {
            exclusions.push(written);
        } else {
            targets.push(Target {
                variable: written.variable,
                selector: written.selector,
                count: written.count,
                exclusions: Vec::new(),
            });
        }
    }
    for exclusion in exclusions {
        add_exclusion(&mut targets, exclusion.variable, exclusion.selector);
    }
    Ok(targets)
}

/// Attaches `!VAR:key` to every target reading VAR.
pub fn add_exclusion(targets: &mut [Target], variable: Variable, selector: Selector) {
    for target in targets.iter_mut().filter(|t| t.variable == variable) {
        target.exclusions.push(selector.clone());
    }
}

/// Each entry of a written list, negated ones included, as
/// `SecRuleUpdateTargetById` gives them.
pub fn parse_written_list(text: &str) -> Result<Vec<WrittenTarget>, String> {
    split_targets(text)?
        .iter()
        .map(|item| parse_written(item))
        .collect()
}

/// One target such as `ARGS:foo`, as `ctl:ruleRemoveTargetById` names it.
pub fn parse_single_target(text: &str) -> Result<WrittenTarget, String> {
    parse_written(text.trim())
}

fn split_targets(text: &str) -> Result<Vec<String>, String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '|' => items.push(std::mem::take(&mut current)),
            ':' if !current.to_ascii_uppercase().ends_with("XML") => {
                current.push(':');
                match chars.peek() {
                    Some('/') => read_delimited(&mut chars, &mut current, '/')?,
                    Some('\'') => read_delimited(&mut chars, &mut current, '\'')?,
                    _ => {}
                }
            }
            other => current.push(other),
        }
    }
    items.push(current);
    Ok(items
        .into_iter()
        .map(|item| item.trim().to_string())
        .filter(|item| !item.is_empty())
        .collect())
}

/// Copies a `/regex/` or `'quoted'` selector, delimiters included, so a `|`
/// inside it does not split the list.
fn read_delimited(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    out: &mut String,
    delimiter: char,
) -> Result<(), String> {
    out.extend(chars.next());
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '\\' {
            out.extend(chars.next());
        } else if c == delimiter {
            return Ok(());
        }
    }
    Err(format!("a selector opened with {delimiter} is not closed"))
}

fn parse_written(item: &str) -> Result<WrittenTarget, String> {
    let mut rest = item;
    let mut negated = false;
    let mut count = false;
    loop {
        if let Some(tail) = rest.strip_prefix('!') {
            negated = true;
            rest = tail;
        } else if let Some(tail) = rest.strip_prefix('&') {
            count = true;
            rest = tail;
        } else {
            break;
        }
    }
    let (name, key) = match rest.split_once(':') {
        Some((name, key)) => (name, Some(key)),
        None => (rest, None),
    };
    let variable = Variable::from_name(name).ok_or_else(|| format!("{name}: unknown variable"))?;
    let selector = match key {
        None => Selector::All,
        Some(key) => selector(variable, key)?,
    };
    Ok(WrittenTarget {
        variable,
        selector,
        count,
        negated,
    })
}

fn selector(variable: Variable, key: &str) -> Result<Selector, String> {
    let key = key
        .strip_prefix('\'')
        .and_then(|k| k.strip_suffix('\''))
        .unwrap_or(key);
    if variable != Variable::Xml
        && key.len() >= 2
        && let Some(pattern) = key.strip_prefix('/').and_then(|k| k.strip_suffix('/'))
    {
        // `/^header_name_920450_/`: a prefix, compared without a regex.
        if let Some(prefix) = pattern.strip_prefix('^')
            && !prefix.is_empty()
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Ok(Selector::Prefix(prefix.to_ascii_lowercase().into_bytes()));
        }
        // Keys compare case-insensitively, so patterns over them do too.
        let pattern = regex::bytes::RegexBuilder::new(pattern)
            .case_insensitive(true)
            .unicode(false)
            .build()
            .map_err(|error| format!("{key}: bad selector pattern: {error}"))?;
        return Ok(Selector::Pattern(pattern));
    }
    Ok(Selector::Key(key.to_ascii_lowercase().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_attach_to_their_variable() {
        let targets =
            parse_targets("REQUEST_HEADERS|!REQUEST_HEADERS:Referer|ARGS|&TX:x").expect("parses");
        assert_eq!(targets.len(), 3);
        assert!(targets[0].excludes(b"referer"));
        assert!(!targets[1].excludes(b"referer"));
        assert!(targets[2].count);
    }

    #[test]
    fn a_bar_inside_a_pattern_does_not_split() {
        let targets = parse_targets("REQUEST_COOKIES:/^(?:a|b)$/|XML:/*").expect("parses");
        assert_eq!(targets.len(), 2);
        assert!(targets[0].selector.accepts(b"B"));
        assert!(matches!(&targets[1].selector, Selector::Key(k) if k == b"/*"));
    }

    #[test]
    fn an_anchored_literal_pattern_is_a_prefix() {
        let targets = parse_targets("TX:/^Header_Name_/|ARGS:/^a.b/").expect("parses");
        assert!(matches!(&targets[0].selector, Selector::Prefix(p) if p == b"header_name_"));
        assert!(targets[0].selector.accepts(b"header_name_x-a"));
        assert!(targets[0].selector.accepts(b"HEADER_NAME_"));
        assert!(!targets[0].selector.accepts(b"x_header_name_"));
        assert!(!targets[0].selector.accepts(b"header"));
        assert!(matches!(&targets[1].selector, Selector::Pattern(_)));
    }
}
