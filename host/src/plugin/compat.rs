//! Checks made before a component is instantiated: that it speaks this
//! gateway's version of `portcullis:policy`, and that it imports only the
//! capabilities its config grants.

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::config::Capability;

/// The WIT package this gateway implements.
pub const WIT_PACKAGE: &str = "portcullis:policy";
/// Its version.
pub const WIT_VERSION: &str = "0.1.0";

/// Why a component cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CompatError {
    /// It exports no policy interface at all.
    #[error("the component does not export {WIT_PACKAGE}/policy; is it a Portcullis plugin?")]
    NotAPlugin,
    /// It was built for another, incompatible version.
    #[error(
        "the component was built for {WIT_PACKAGE}@{found}, but this gateway speaks {WIT_PACKAGE}@{WIT_VERSION} \
         (under 0.x, only the same minor version is compatible); rebuild it against {WIT_VERSION}"
    )]
    IncompatibleVersion {
        /// The version it was built for.
        found: String,
    },
    /// It imports a capability that was not granted.
    #[error(
        "the component imports {import}, but capability {capability:?} is not granted (capabilities = [...])"
    )]
    NotGranted {
        /// The import's full name.
        import: String,
        /// The capability to grant.
        capability: String,
    },
    /// It imports an interface of the package this gateway does not have.
    #[error("the component imports {0}, which this gateway does not provide")]
    UnknownImport(String),
}

/// Check `component` against this gateway and the granted capabilities.
pub fn check(
    engine: &Engine,
    component: &Component,
    granted: &[Capability],
) -> Result<(), CompatError> {
    let ty = component.component_type();
    let mut exports_policy = false;
    for (name, _) in ty.exports(engine) {
        if let Some(("policy", version)) = split_name(name) {
            if !compatible(version) {
                return Err(CompatError::IncompatibleVersion {
                    found: version.to_string(),
                });
            }
            exports_policy = true;
        }
    }
    if !exports_policy {
        return Err(CompatError::NotAPlugin);
    }
    for (name, _) in ty.imports(engine) {
        let Some((interface, version)) = split_name(name) else {
            continue;
        };
        if !compatible(version) {
            return Err(CompatError::IncompatibleVersion {
                found: version.to_string(),
            });
        }
        match interface {
            "types" => {}
            "log" | "clock" | "kv" | "rate-limit" | "outbound-http" | "api-keys" | "crypto"
            | "geo" | "metrics" | "decision-cache" => {
                if !granted.iter().any(|c| c.interface() == interface) {
                    return Err(CompatError::NotGranted {
                        import: name.to_string(),
                        capability: interface.to_string(),
                    });
                }
            }
            _ => return Err(CompatError::UnknownImport(name.to_string())),
        }
    }
    Ok(())
}

/// `portcullis:policy/kv@0.1.0` → `("kv", "0.1.0")`.
pub fn split_name(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix(WIT_PACKAGE)?.strip_prefix('/')?;
    rest.split_once('@')
}

/// Under 0.x semver, 0.1.y is compatible with 0.1.z and nothing else.
fn compatible(version: &str) -> bool {
    let major_minor = |v: &str| {
        let mut parts = v.split('.');
        (
            parts.next().map(str::to_string),
            parts.next().map(str::to_string),
        )
    };
    major_minor(version) == major_minor(WIT_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_minor_is_compatible_under_zero() {
        assert!(compatible("0.1.0"));
        assert!(compatible("0.1.7"));
        assert!(!compatible("0.2.0"));
        assert!(!compatible("1.1.0"));
    }

    #[test]
    fn names_split_into_interface_and_version() {
        assert_eq!(
            split_name("portcullis:policy/kv@0.1.0"),
            Some(("kv", "0.1.0"))
        );
        assert_eq!(split_name("wasi:io/streams@0.2.0"), None);
    }
}
