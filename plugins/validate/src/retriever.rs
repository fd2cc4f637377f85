//! Where `$ref`s to other documents are read from. Schemas are compiled at
//! configure time, never fetched over the network: a URI prefix maps to a
//! directory (a mount, for the plugin; the test suite's `remotes/`, for its
//! runner), and anything else is an error naming the URI.

use std::path::PathBuf;

use jsonschema::{Retrieve, Uri};
use serde_json::Value;

/// Resolves URIs under known prefixes to files under directories.
#[derive(Debug, Clone, Default)]
pub struct DirectoryRetriever {
    roots: Vec<(String, PathBuf)>,
}

impl DirectoryRetriever {
    /// Serve URIs that start with `prefix` from files under `dir`.
    pub fn with_root(mut self, prefix: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        self.roots.push((prefix.into(), dir.into()));
        self
    }

    fn file_for(&self, uri: &str) -> Option<PathBuf> {
        let uri = uri.split('#').next().unwrap_or(uri);
        self.roots.iter().find_map(|(prefix, dir)| {
            let rest = uri.strip_prefix(prefix.as_str())?;
            // A reference cannot climb out of its directory.
            if rest.split('/').any(|segment| segment == "..") {
                return None;
            }
            Some(dir.join(rest))
        })
    }
}

impl Retrieve for DirectoryRetriever {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let Some(path) = self.file_for(uri.as_str()) else {
            return Err(format!(
                "`{}` is not under a schema directory; remote schemas are not fetched",
                uri.as_str()
            )
            .into());
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "cannot read `{}` for `{}`: {e}",
                path.display(),
                uri.as_str()
            )
        })?;
        Ok(serde_json::from_str(&text)
            .map_err(|e| format!("`{}` is not JSON: {e}", path.display()))?)
    }
}

#[cfg(test)]
mod tests {
    use super::DirectoryRetriever;

    #[test]
    fn references_map_into_their_directory_and_not_above_it() {
        let retriever = DirectoryRetriever::default().with_root("file:///schemas/", "/schemas");
        assert_eq!(
            retriever.file_for("file:///schemas/pet.json#/defs/a"),
            Some("/schemas/pet.json".into())
        );
        assert_eq!(retriever.file_for("file:///schemas/../etc/passwd"), None);
        assert_eq!(retriever.file_for("https://evil.example/x.json"), None);
    }
}
