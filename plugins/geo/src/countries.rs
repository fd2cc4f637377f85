//! Country codes and the named groups settings may use for them.

/// The European Union's 27 members.
const EU: [&str; 27] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];

/// The European Economic Area beyond the EU.
const EEA_ONLY: [&str; 3] = ["IS", "LI", "NO"];

/// The codes `entry` stands for: a group (`EU`, `EEA`) or one ISO 3166-1
/// alpha-2 code.
pub fn expand(entry: &str) -> Result<Vec<String>, String> {
    let entry = entry.trim().to_ascii_uppercase();
    match entry.as_str() {
        "EU" => Ok(EU.iter().map(|c| c.to_string()).collect()),
        "EEA" => Ok(EU.iter().chain(&EEA_ONLY).map(|c| c.to_string()).collect()),
        code if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) => {
            Ok(vec![code.to_string()])
        }
        _ => Err(format!(
            "`{entry}` is neither an ISO 3166-1 alpha-2 code nor a group (EU, EEA)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn groups_expand_and_codes_are_checked() {
        assert_eq!(expand("EU").expect("group").len(), 27);
        assert!(expand("EEA").expect("group").contains(&"NO".to_string()));
        assert_eq!(expand("de").expect("code"), vec!["DE".to_string()]);
        assert!(expand("Germany").is_err());
        assert!(expand("D1").is_err());
    }
}
