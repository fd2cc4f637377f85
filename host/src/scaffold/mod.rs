//! `portcullis plugin new --lang LANG NAME`: a directory with a working
//! plugin in the language, the WIT package, a build script and a case file
//! the plugin passes, so an author starts from something that builds and
//! tests. The templates live beside this file; the WIT files and the
//! toolchain helpers are the repository's own, embedded at build time.

use std::path::{Path, PathBuf};

/// The languages a plugin can be started in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// Rust with wit-bindgen.
    Rust,
    /// JavaScript with componentize-js.
    Js,
    /// Python with componentize-py.
    Python,
    /// Stock Go with wit-bindgen go.
    Go,
}

impl Language {
    fn title(self) -> &'static str {
        match self {
            Language::Rust => "Rust",
            Language::Js => "JavaScript",
            Language::Python => "Python",
            Language::Go => "Go",
        }
    }

    /// (path in the new directory, template).
    fn files(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Language::Rust => vec![
                ("Cargo.toml", include_str!("rust/Cargo.toml")),
                ("src/lib.rs", include_str!("rust/lib.rs")),
                (
                    "rust-toolchain.toml",
                    include_str!("../../../rust-toolchain.toml"),
                ),
                ("build.sh", include_str!("rust/build.sh")),
            ],
            Language::Js => vec![
                ("policy.js", include_str!("js/policy.js")),
                ("build.sh", include_str!("js/build.sh")),
                ("tools.sh", TOOLS),
            ],
            Language::Python => vec![
                ("app.py", include_str!("python/app.py")),
                ("build.sh", include_str!("python/build.sh")),
                ("tools.sh", TOOLS),
            ],
            Language::Go => vec![
                ("policy.go", include_str!("go/policy.go")),
                ("build.sh", include_str!("go/build.sh")),
                ("tools.sh", TOOLS),
                (
                    "embed_world.py",
                    include_str!("../../../examples/authorizers/embed_world.py"),
                ),
            ],
        }
    }
}

const TOOLS: &str = include_str!("../../../examples/authorizers/tools.sh");

/// Files every plugin gets.
const COMMON: [(&str, &str); 5] = [
    ("README.md", include_str!("README.md")),
    ("cases.json", include_str!("cases.json")),
    ("wit/policy.wit", include_str!("../../../wit/policy.wit")),
    ("wit/types.wit", include_str!("../../../wit/types.wit")),
    ("wit/host.wit", include_str!("../../../wit/host.wit")),
];

/// Names that are valid but would not build as a Rust crate (keywords,
/// the standard crates), refused for every language so names stay portable.
const RESERVED: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "try",
    "gen",
    "alloc",
    "core",
    "std",
    "test",
    "proc-macro",
];

/// Why no plugin was made.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name is not usable as a package and file name.
    #[error(
        "{0:?}: a plugin name is a lower-case letter, then lower-case letters, digits or -, and not a Rust keyword"
    )]
    BadName(String),
    /// Something is already there.
    #[error("{0} already exists")]
    Exists(PathBuf),
    /// Writing failed.
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

/// Make the plugin `name` in `language` in the new directory `dir`; the
/// files written.
pub fn create(dir: &Path, name: &str, language: Language) -> Result<Vec<PathBuf>, ScaffoldError> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid || RESERVED.contains(&name) {
        return Err(ScaffoldError::BadName(name.to_string()));
    }
    // Made here, so nothing already there is written over.
    std::fs::create_dir(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => ScaffoldError::Exists(dir.to_path_buf()),
        _ => ScaffoldError::Write(dir.to_path_buf(), e),
    })?;
    let mut written = Vec::new();
    for (relative, template) in COMMON.iter().copied().chain(language.files()) {
        let path = dir.join(relative);
        let text = template
            .replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{language}}", language.title());
        write(&path, &text, relative.ends_with(".sh"))
            .map_err(|e| ScaffoldError::Write(path.clone(), e))?;
        written.push(path);
    }
    Ok(written)
}

fn write(path: &Path, text: &str, executable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(text.as_bytes())?;
    if executable {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_nothing_is_overwritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("p");
        for bad in ["Bad_Name", "self", "std", ""] {
            assert!(matches!(
                create(&target, bad, Language::Js),
                Err(ScaffoldError::BadName(_))
            ));
        }
        let files = create(&target, "require-version", Language::Rust).expect("created");
        assert!(files.iter().any(|f| f.ends_with("src/lib.rs")));
        let cargo = std::fs::read_to_string(target.join("Cargo.toml")).expect("Cargo.toml");
        assert!(cargo.contains("name = \"require-version\""));
        let build = std::fs::read_to_string(target.join("build.sh")).expect("build.sh");
        assert!(build.contains("require_version.wasm"));
        assert!(matches!(
            create(&target, "again", Language::Rust),
            Err(ScaffoldError::Exists(_))
        ));
    }
}
