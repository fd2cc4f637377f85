//! JSON bodies flattened into arguments: `{"a":{"b":[1]}}` gives
//! `json.a.b.0 = 1`, so rules over ARGS see every leaf.
//!
//! The document is read as a stream: each leaf becomes an argument as the
//! parser meets it, in document order and duplicate keys included (as
//! ModSecurity's JSON processor gives them), with no tree built first.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::request::Pairs;

/// Deeper documents are refused: a body processor must not recurse without bound.
const MAX_DEPTH: usize = 64;

/// Each leaf carries its whole path as a name: a long key above many leaves
/// would multiply a small body into a large one. Past this many bytes of
/// names the document is refused.
const MAX_NAME_BYTES: usize = 1 << 20;

pub fn flatten(input: &[u8]) -> Result<Pairs, String> {
    let mut flattener = Flattener {
        name: b"json".to_vec(),
        depth: 0,
        name_bytes: 0,
        out: Vec::new(),
    };
    let mut deserializer = serde_json::Deserializer::from_slice(input);
    Leaf(&mut flattener)
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end())
        .map_err(|error| error.to_string())?;
    Ok(flattener.out)
}

/// The arguments so far and the path of the value being read.
struct Flattener {
    name: Vec<u8>,
    depth: usize,
    name_bytes: usize,
    out: Pairs,
}

impl Flattener {
    fn push<E: de::Error>(&mut self, value: Vec<u8>) -> Result<(), E> {
        if self.out.len() >= crate::request::MAX_ARGUMENTS {
            return Err(E::custom("JSON document with too many values"));
        }
        self.name_bytes += self.name.len();
        if self.name_bytes > MAX_NAME_BYTES {
            return Err(E::custom("JSON document whose value names are too long"));
        }
        self.out.push((self.name.clone(), value));
        Ok(())
    }

    /// Reads an array's or object's members, one level deeper.
    fn nested<E: de::Error>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<(), E>,
    ) -> Result<(), E> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(E::custom("JSON nested too deeply"));
        }
        read(self)?;
        self.depth -= 1;
        Ok(())
    }

    /// Reads one member under the name, a dot and what `read` puts after
    /// it, then restores the name; `read` says whether there was a member.
    fn member<E: de::Error>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<bool, E>,
    ) -> Result<bool, E> {
        let parent = self.name.len();
        self.name.push(b'.');
        let outcome = read(self);
        self.name.truncate(parent);
        outcome
    }
}

/// Reads one JSON value into the flattener, under its current name.
struct Leaf<'f>(&'f mut Flattener);

impl<'de> DeserializeSeed<'de> for Leaf<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Leaf<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<(), E> {
        self.0.push(flag.to_string().into_bytes())
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<(), E> {
        self.0.push(number.to_string().into_bytes())
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<(), E> {
        self.0.push(number.to_string().into_bytes())
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<(), E> {
        // serde_json's own spelling of the number, as its `Value` gives it.
        let text = serde_json::Number::from_f64(number)
            .map(|number| number.to_string())
            .unwrap_or_default();
        self.0.push(text.into_bytes())
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        self.0.push(text.as_bytes().to_vec())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.push(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        self.0.nested(|flattener| {
            let mut index = 0usize;
            while flattener.member(|flattener| {
                flattener
                    .name
                    .extend_from_slice(index.to_string().as_bytes());
                Ok(items.next_element_seed(Leaf(flattener))?.is_some())
            })? {
                index += 1;
            }
            Ok(())
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        self.0.nested(|flattener| {
            while flattener.member(|flattener| {
                if members.next_key_seed(Key(&mut flattener.name))?.is_none() {
                    return Ok(false);
                }
                members.next_value_seed(Leaf(flattener))?;
                Ok(true)
            })? {}
            Ok(())
        })
    }
}

/// Reads an object's key onto the end of the name.
struct Key<'n>(&'n mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<(), E> {
        self.0.extend_from_slice(key.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_nested_documents() {
        let args = flatten(br#"{"a":{"b":["x",2]},"c":null}"#).expect("parses");
        assert_eq!(args[0], (b"json.a.b.0".to_vec(), b"x".to_vec()));
        assert_eq!(args[1], (b"json.a.b.1".to_vec(), b"2".to_vec()));
        assert_eq!(args[2], (b"json.c".to_vec(), Vec::new()));
        assert!(flatten(b"{bad").is_err());
        assert!(flatten(b"{} trailing").is_err());
    }

    #[test]
    fn members_come_in_document_order_duplicates_included() {
        let args = flatten(br#"{"z":1,"a":[true,1.5,-3],"z":"again"}"#).expect("parses");
        let pairs: Vec<(&[u8], &[u8])> = args
            .iter()
            .map(|(name, value)| (name.as_slice(), value.as_slice()))
            .collect();
        assert_eq!(
            pairs,
            [
                (&b"json.z"[..], &b"1"[..]),
                (b"json.a.0", b"true"),
                (b"json.a.1", b"1.5"),
                (b"json.a.2", b"-3"),
                (b"json.z", b"again"),
            ]
        );
    }

    #[test]
    fn scalars_and_escapes_read_as_their_text() {
        let args = flatten(br#"["a\"b\u00e9", 1e3, 12345678901234567890]"#).expect("parses");
        assert_eq!(args[0].1, "a\"bé".as_bytes());
        assert_eq!(args[1].1, b"1000.0");
        assert_eq!(args[2].1, b"12345678901234567890");
        assert_eq!(flatten(b"\"top\"").expect("parses")[0].0, b"json");
    }

    #[test]
    fn a_long_key_over_many_values_is_refused() {
        let key = "k".repeat(100_000);
        let values = vec!["0"; 200].join(",");
        let document = format!("{{\"{key}\":[{values}]}}");
        assert!(flatten(document.as_bytes()).is_err());
    }

    #[test]
    fn deep_or_crowded_documents_are_refused() {
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(flatten(deep.as_bytes()).is_err());
        let crowded = format!("[{}]", vec!["0"; 1001].join(","));
        assert!(flatten(crowded.as_bytes()).is_err());
    }
}
