//! Secrets in config: any string value in plugin settings written
//! `env:NAME` or `file:PATH` is replaced by the variable's value or the
//! file's contents (trailing newline removed) when the config is loaded, so
//! secrets need not sit in the config file. A value that must literally
//! start with `env:` or `file:` is written with a `literal:` prefix.

use std::path::Path;

/// Resolve one string value. `Ok(None)` means it is not a reference.
pub fn resolve(value: &str, config_dir: &Path) -> Result<Option<String>, String> {
    if let Some(literal) = value.strip_prefix("literal:") {
        return Ok(Some(literal.to_string()));
    }
    if let Some(name) = value.strip_prefix("env:") {
        return std::env::var(name)
            .map(Some)
            .map_err(|_| format!("environment variable {name} is not set"));
    }
    if let Some(path) = value.strip_prefix("file:") {
        let full = config_dir.join(path);
        return std::fs::read_to_string(&full)
            .map(|text| Some(text.trim_end_matches(['\r', '\n']).to_string()))
            .map_err(|e| format!("cannot read secret file {}: {e}", full.display()));
    }
    Ok(None)
}

/// Resolve every string in a TOML table, recursively. Errors name the key.
pub fn resolve_table(
    table: &mut toml::Table,
    config_dir: &Path,
    key_prefix: &str,
) -> Result<(), (String, String)> {
    for (key, value) in table.iter_mut() {
        resolve_value(value, config_dir, &format!("{key_prefix}.{key}"))?;
    }
    Ok(())
}

fn resolve_value(value: &mut toml::Value, dir: &Path, key: &str) -> Result<(), (String, String)> {
    match value {
        toml::Value::String(s) => {
            if let Some(resolved) = resolve(s, dir).map_err(|e| (key.to_string(), e))? {
                *s = resolved;
            }
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                resolve_value(item, dir, &format!("{key}[{i}]"))?;
            }
        }
        toml::Value::Table(table) => resolve_table(table, dir, key)?,
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_left_alone() {
        assert_eq!(resolve("hello", Path::new(".")), Ok(None));
        assert_eq!(
            resolve("literal:env:X", Path::new(".")),
            Ok(Some("env:X".into()))
        );
    }

    #[test]
    fn missing_env_and_file_are_errors() {
        let err = resolve("env:PORTCULLIS_SURELY_UNSET_VARIABLE", Path::new("."));
        assert_eq!(
            err,
            Err("environment variable PORTCULLIS_SURELY_UNSET_VARIABLE is not set".into())
        );
        assert!(resolve("file:/nonexistent/secret", Path::new(".")).is_err());
    }

    #[test]
    fn file_secrets_lose_their_trailing_newline() {
        let dir = std::env::temp_dir().join(format!("portcullis-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("token"), "s3cret\n").expect("write secret");
        assert_eq!(resolve("file:token", &dir), Ok(Some("s3cret".into())));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
