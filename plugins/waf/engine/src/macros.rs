//! `%{VAR}` and `%{COLLECTION.key}` expansion in action and operator arguments.

use std::borrow::Cow;

use crate::variable::Variable;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(Vec<u8>),
    Reference {
        variable: Variable,
        key: Option<Vec<u8>>,
    },
}

/// A string parsed once into literals and references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroString {
    parts: Vec<Part>,
}

/// Where references are looked up: the running transaction.
pub trait MacroSource {
    /// The first value of `variable` (narrowed to `key`, lowercase), if any.
    fn lookup(&self, variable: Variable, key: Option<&[u8]>) -> Option<Cow<'_, [u8]>>;
}

impl MacroString {
    /// Parses `text`; a `%{...}` naming no known variable stays literal, as
    /// ModSecurity leaves it.
    pub fn parse(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut parts = Vec::new();
        let mut literal = Vec::new();
        let mut index = 0;
        while index < bytes.len() {
            if bytes[index] == b'%'
                && bytes.get(index + 1) == Some(&b'{')
                && let Some(close) = bytes[index + 2..].iter().position(|&b| b == b'}')
            {
                let inner = &text[index + 2..index + 2 + close];
                if let Some(reference) = reference(inner) {
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(reference);
                    index += close + 3;
                    continue;
                }
            }
            literal.push(bytes[index]);
            index += 1;
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        MacroString { parts }
    }

    /// Whether expansion can change the text (so it must be done per use).
    pub fn is_constant(&self) -> bool {
        self.parts
            .iter()
            .all(|part| matches!(part, Part::Literal(_)))
    }

    pub fn expand<'a>(&'a self, source: &'a dyn MacroSource) -> Cow<'a, [u8]> {
        match self.parts.as_slice() {
            [] => Cow::Borrowed(&[]),
            [Part::Literal(text)] => Cow::Borrowed(text),
            // Operands are mostly one reference (`@within
            // %{tx.allowed_methods}`): hand out the value as it is stored.
            [Part::Reference { variable, key }] => source
                .lookup(*variable, key.as_deref())
                .unwrap_or(Cow::Borrowed(&[])),
            parts => {
                let mut out = Vec::new();
                for part in parts {
                    match part {
                        Part::Literal(text) => out.extend_from_slice(text),
                        Part::Reference { variable, key } => {
                            if let Some(value) = source.lookup(*variable, key.as_deref()) {
                                out.extend_from_slice(&value);
                            }
                        }
                    }
                }
                Cow::Owned(out)
            }
        }
    }
}

fn reference(inner: &str) -> Option<Part> {
    let (name, key) = match inner.split_once(['.', ':']) {
        Some((name, key)) => (name, Some(key.to_ascii_lowercase().into_bytes())),
        None => (inner, None),
    };
    let variable = Variable::from_name(name)?;
    Some(Part::Reference { variable, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl MacroSource for Fixed {
        fn lookup(&self, variable: Variable, key: Option<&[u8]>) -> Option<Cow<'_, [u8]>> {
            match (variable, key) {
                (Variable::Tx, Some(b"score")) => Some(Cow::Borrowed(b"5")),
                (Variable::MatchedVarName, None) => Some(Cow::Borrowed(b"ARGS:q")),
                _ => None,
            }
        }
    }

    #[test]
    fn expands_references_and_keeps_unknown_ones() {
        let text = MacroString::parse("s=%{TX.Score} in %{matched_var_name} %{nope} %{tx.none}");
        assert!(!text.is_constant());
        assert_eq!(&*text.expand(&Fixed), b"s=5 in ARGS:q %{nope} ");
        let single = MacroString::parse("%{tx.score}");
        assert!(matches!(single.expand(&Fixed), Cow::Borrowed(b"5")));
        assert_eq!(&*MacroString::parse("%{tx.none}").expand(&Fixed), b"");
    }
}
