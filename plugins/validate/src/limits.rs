//! Limits on a JSON body's shape, checked on the bytes before parsing so a
//! hostile document costs one linear scan: nesting depth and the number of
//! object keys (a key-flooded object is a cheap way to burn a parser's and
//! a validator's CPU).

use crate::violation::Violation;

/// Shape limits for JSON bodies.
#[derive(Debug, Clone, Copy)]
pub struct JsonLimits {
    /// Deepest nesting of arrays and objects.
    pub max_depth: usize,
    /// Most object keys in the whole document.
    pub max_keys: usize,
}

impl Default for JsonLimits {
    fn default() -> Self {
        Self {
            max_depth: 32,
            max_keys: 1000,
        }
    }
}

impl JsonLimits {
    /// Scan `body`; a document over a limit is refused with 400. Malformed
    /// JSON is left to the parser, which says where.
    pub fn check(&self, body: &[u8]) -> Result<(), Violation> {
        let mut depth = 0usize;
        let mut keys = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        for &byte in body {
            if in_string {
                match (escaped, byte) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    if depth > self.max_depth {
                        return Err(limit(
                            "max-depth",
                            format!("the JSON body nests deeper than {} levels", self.max_depth),
                        ));
                    }
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                // Outside strings a colon only ever follows an object key.
                b':' => {
                    keys += 1;
                    if keys > self.max_keys {
                        return Err(limit(
                            "max-keys",
                            format!("the JSON body has more than {} keys", self.max_keys),
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn limit(rule: &str, error: String) -> Violation {
    Violation::invalid("body", "", rule, error)
}

#[cfg(test)]
mod tests {
    use super::JsonLimits;

    #[test]
    fn depth_and_keys_are_counted_outside_strings_only() {
        let limits = JsonLimits {
            max_depth: 2,
            max_keys: 2,
        };
        assert!(limits.check(br#"{"a": [1, "[[[[:::"], "b": {}}"#).is_ok());
        assert_eq!(
            limits.check(b"[[[1]]]").expect_err("deep").rule,
            "max-depth"
        );
        assert_eq!(
            limits
                .check(br#"{"a":1,"b":2,"c":3}"#)
                .expect_err("keys")
                .rule,
            "max-keys"
        );
        assert!(limits.check(br#"{"a\"": "\\", "b": 1}"#).is_ok());
    }
}
