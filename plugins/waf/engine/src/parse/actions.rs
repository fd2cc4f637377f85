//! Parses a rule's action list (`"id:1,phase:2,block,t:none,msg:'...'"`).

use crate::macros::MacroString;
use crate::rule::{Actions, BodyProcessor, Ctl, Disruptive, EngineMode, IdRange, SetVar, SetVarOp};
use crate::transform::{Transform, TransformChain};

use super::targets::parse_single_target;

/// Splits on commas outside single quotes; each item is `name` or
/// `name:value`, the value unquoted.
pub fn split_actions(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted && chars.peek() == Some(&'\'') => {
                current.push('\'');
                chars.next();
            }
            '\'' => quoted = !quoted,
            ',' if !quoted => items.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    if quoted {
        return Err("a quoted action value is not closed".into());
    }
    items.push(current);
    Ok(items
        .into_iter()
        .map(|item| item.trim().to_string())
        .filter(|item| !item.is_empty())
        .map(|item| match item.split_once(':') {
            Some((name, value)) => (name.trim().to_string(), value.trim().to_string()),
            None => (item, String::new()),
        })
        .collect())
}

/// Actions that take effect only in logs or persistent storage this engine
/// does not keep; accepted so stock rule files load.
const ACCEPTED_AND_IGNORED: &[&str] = &[
    "ver",
    "rev",
    "maturity",
    "accuracy",
    "auditlog",
    "noauditlog",
    "initcol",
    "expirevar",
    "deprecatevar",
    "setenv",
    "setuid",
    "setsid",
    "sanitiseArg",
    "sanitiseMatched",
    "sanitiseMatchedBytes",
    "sanitiseRequestHeader",
    "sanitiseResponseHeader",
];

pub fn parse_actions(text: &str) -> Result<Actions, String> {
    let mut actions = Actions::default();
    let mut transforms: Option<Vec<Transform>> = None;
    for (name, value) in split_actions(text)? {
        match name.as_str() {
            "id" => {
                actions.id = value
                    .parse()
                    .map_err(|_| format!("id:{value}: not a rule number"))?
            }
            "phase" => {
                actions.phase = Some(match value.as_str() {
                    "request" => 2,
                    "response" => 4,
                    "logging" => 5,
                    number => match number.parse() {
                        Ok(phase @ 1..=5) => phase,
                        _ => return Err(format!("phase:{value}: expected 1 to 5")),
                    },
                })
            }
            "pass" => actions.disruptive = Some(Disruptive::Pass),
            "block" => actions.disruptive = Some(Disruptive::Block),
            "deny" => actions.disruptive = Some(Disruptive::Deny),
            "drop" => actions.disruptive = Some(Disruptive::Drop),
            "allow" => actions.disruptive = Some(Disruptive::Allow),
            "status" => {
                actions.status = Some(
                    value
                        .parse()
                        .map_err(|_| format!("status:{value}: not an HTTP status"))?,
                )
            }
            "msg" => actions.msg = Some(MacroString::parse(&value)),
            "logdata" => actions.logdata = Some(MacroString::parse(&value)),
            "tag" => actions.tags.push(value),
            "severity" => actions.severity = Some(severity(&value)?),
            "capture" => actions.capture = true,
            "multiMatch" => actions.multi_match = true,
            "log" => actions.log = Some(true),
            "nolog" => actions.log = Some(false),
            "chain" => actions.chain = true,
            "skipAfter" => actions.skip_after = Some(value),
            "setvar" => actions.setvars.push(setvar(&value)?),
            "ctl" => actions.ctls.push(ctl(&value)?),
            "t" => {
                let list = transforms.get_or_insert_with(Vec::new);
                if value == "none" {
                    list.clear();
                } else {
                    list.push(
                        Transform::from_name(&value)
                            .ok_or_else(|| format!("t:{value}: unknown transformation"))?,
                    );
                }
            }
            ignored if ACCEPTED_AND_IGNORED.contains(&ignored) => {}
            other => return Err(format!("{other}: unknown action")),
        }
    }
    actions.transforms = transforms.map(TransformChain::new);
    Ok(actions)
}

fn severity(value: &str) -> Result<u8, String> {
    const NAMES: [&str; 8] = [
        "EMERGENCY",
        "ALERT",
        "CRITICAL",
        "ERROR",
        "WARNING",
        "NOTICE",
        "INFO",
        "DEBUG",
    ];
    if let Ok(level) = value.parse::<u8>()
        && level < 8
    {
        return Ok(level);
    }
    NAMES
        .iter()
        .position(|name| name.eq_ignore_ascii_case(value))
        .map(|level| level as u8)
        .ok_or_else(|| format!("severity:{value}: unknown severity"))
}

/// `tx.name=value`, `tx.name=+n`, `tx.name=-n`, `!tx.name`.
fn setvar(value: &str) -> Result<SetVar, String> {
    let (delete, body) = match value.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (target, assigned) = match body.split_once('=') {
        Some((target, assigned)) => (target, Some(assigned)),
        None => (body, None),
    };
    let (collection, name) = target
        .split_once('.')
        .ok_or_else(|| format!("setvar:{value}: expected collection.name"))?;
    let op = match (delete, assigned) {
        (true, _) => SetVarOp::Delete,
        (false, None) => SetVarOp::Set(MacroString::parse("1")),
        (false, Some(assigned)) => {
            if let Some(amount) = assigned.strip_prefix('+') {
                SetVarOp::Add(MacroString::parse(amount))
            } else if let Some(amount) = assigned.strip_prefix('-') {
                SetVarOp::Subtract(MacroString::parse(amount))
            } else {
                SetVarOp::Set(MacroString::parse(assigned))
            }
        }
    };
    Ok(SetVar {
        transient: collection.eq_ignore_ascii_case("tx"),
        name: MacroString::parse(&name.to_ascii_lowercase()),
        op,
    })
}

pub fn id_range(text: &str) -> Result<IdRange, String> {
    let parse = |part: &str| {
        part.trim()
            .parse::<u32>()
            .map_err(|_| format!("{text}: not a rule id or id range"))
    };
    match text.split_once('-') {
        Some((first, last)) => Ok(IdRange {
            first: parse(first)?,
            last: parse(last)?,
        }),
        None => {
            let id = parse(text)?;
            Ok(IdRange {
                first: id,
                last: id,
            })
        }
    }
}

fn ctl(value: &str) -> Result<Ctl, String> {
    let (option, argument) = value
        .split_once('=')
        .ok_or_else(|| format!("ctl:{value}: expected option=value"))?;
    Ok(match option {
        "ruleEngine" => Ctl::RuleEngine(match argument.to_ascii_lowercase().as_str() {
            "on" => EngineMode::On,
            "off" => EngineMode::Off,
            "detectiononly" => EngineMode::DetectionOnly,
            _ => return Err(format!("ctl:{value}: expected On, Off or DetectionOnly")),
        }),
        "ruleRemoveById" => Ctl::RuleRemoveById(id_range(argument)?),
        "ruleRemoveByTag" => Ctl::RuleRemoveByTag(argument.to_string()),
        "ruleRemoveTargetById" | "ruleRemoveTargetByTag" => {
            let (which, target) = argument
                .split_once(';')
                .ok_or_else(|| format!("ctl:{value}: expected rule;TARGET"))?;
            let target = parse_single_target(target)?;
            if option == "ruleRemoveTargetById" {
                Ctl::RuleRemoveTargetById(id_range(which)?, target.variable, target.selector)
            } else {
                Ctl::RuleRemoveTargetByTag(which.to_string(), target.variable, target.selector)
            }
        }
        "requestBodyProcessor" => Ctl::RequestBodyProcessor(
            BodyProcessor::from_name(argument)
                .ok_or_else(|| format!("ctl:{value}: unknown body processor"))?,
        ),
        "forceRequestBodyVariable" => {
            Ctl::ForceRequestBodyVariable(argument.eq_ignore_ascii_case("on"))
        }
        "auditEngine" | "auditLogParts" | "requestBodyAccess" | "responseBodyAccess"
        | "debugLogLevel" | "hashEngine" | "parseXmlIntoArgs" | "requestBodyLimit" => Ctl::Ignored,
        _ => return Err(format!("ctl:{value}: unknown control")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_values_with_commas_and_colons() {
        let items = split_actions("id:1,  msg:'a, b: c',tag:'x',t:none,nolog").expect("parses");
        assert_eq!(items[1], ("msg".into(), "a, b: c".into()));
        assert_eq!(items[4], ("nolog".into(), String::new()));
    }

    #[test]
    fn parses_the_actions_the_crs_uses() {
        let actions = parse_actions(
            "id:942100,phase:2,block,capture,t:none,t:utf8toUnicode,t:urlDecodeUni,t:removeNulls,\
             msg:'SQL Injection',severity:'CRITICAL',\
             setvar:'tx.inbound_anomaly_score_pl1=+%{tx.critical_anomaly_score}',\
             ctl:ruleRemoveTargetById=942100;ARGS:foo",
        )
        .expect("parses");
        assert_eq!(actions.id, 942100);
        assert_eq!(actions.phase, Some(2));
        assert_eq!(actions.severity, Some(2));
        assert_eq!(actions.transforms.expect("listed").len(), 3);
        assert!(matches!(actions.setvars[0].op, SetVarOp::Add(_)));
        assert!(matches!(actions.ctls[0], Ctl::RuleRemoveTargetById(..)));
    }

    #[test]
    fn unknown_action_is_refused() {
        assert!(
            parse_actions("id:1,explode")
                .expect_err("refused")
                .contains("explode")
        );
    }
}
