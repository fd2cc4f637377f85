//! The listener's certificates: loaded from PEM files, chosen per
//! handshake by SNI name, and reloaded on SIGHUP or when the files change.
//! A reload that fails (unreadable file, key that does not match) is
//! logged and refused; the certificates in use stay. Established
//! connections are never touched: only new handshakes see new certificates.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsError;
use crate::config::TlsConfig;

/// How often certificate files are checked for changes.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// A certificate and the names it answers.
#[derive(Debug)]
struct NamedCertificate {
    names: Vec<String>,
    key: Arc<CertifiedKey>,
}

/// Picks the certificate whose names match the SNI name, else the first.
#[derive(Debug)]
pub(super) struct SniResolver(pub(super) Arc<CertificateStore>);

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let certificates = self.0.current.load();
        let chosen = hello
            .server_name()
            .map(str::to_ascii_lowercase)
            .and_then(|sni| {
                certificates
                    .iter()
                    .find(|c| c.names.iter().any(|n| name_matches(n, &sni)))
            });
        chosen
            .or_else(|| certificates.first())
            .map(|c| c.key.clone())
    }
}

/// `a.example` matches itself; `*.example` matches exactly one label more.
fn name_matches(pattern: &str, sni: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => sni
            .strip_suffix(suffix)
            .and_then(|head| head.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.contains('.')),
        None => pattern.eq_ignore_ascii_case(sni),
    }
}

/// The certificates in use and where they come from.
#[derive(Debug)]
pub struct CertificateStore {
    config: TlsConfig,
    dir: PathBuf,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<Vec<NamedCertificate>>,
    /// Modification times of the files when last loaded.
    loaded_mtimes: Mutex<Vec<Option<SystemTime>>>,
}

impl CertificateStore {
    /// Load every certificate of `config` (paths relative to `dir`).
    pub fn load(
        config: &TlsConfig,
        dir: &Path,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, TlsError> {
        let store = Self {
            config: config.clone(),
            dir: dir.to_path_buf(),
            current: ArcSwap::from_pointee(Vec::new()),
            loaded_mtimes: Mutex::new(Vec::new()),
            provider,
        };
        store.reload()?;
        Ok(store)
    }

    /// Read the files again and swap the certificates in, or keep the old
    /// ones if anything is wrong.
    pub fn reload(&self) -> Result<(), TlsError> {
        let mtimes = self.mtimes();
        let certificates = self.read_all()?;
        self.current.store(Arc::new(certificates));
        *self.loaded_mtimes.lock().unwrap_or_else(|e| e.into_inner()) = mtimes;
        Ok(())
    }

    /// Whether any file changed since the last load (or failed reload).
    fn changed(&self) -> bool {
        let now = self.mtimes();
        let mut loaded = self.loaded_mtimes.lock().unwrap_or_else(|e| e.into_inner());
        if *loaded == now {
            return false;
        }
        // Remember what was seen so a bad file is reported once, not every poll.
        *loaded = now;
        true
    }

    fn mtimes(&self) -> Vec<Option<SystemTime>> {
        self.config
            .certificates
            .iter()
            .flat_map(|c| [self.dir.join(&c.cert), self.dir.join(&c.key)])
            .map(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok())
            .collect()
    }

    fn read_all(&self) -> Result<Vec<NamedCertificate>, TlsError> {
        let config = &self.config;
        let dir = self.dir.as_path();
        let provider = &self.provider;
        let mut certificates = Vec::with_capacity(config.certificates.len());
        for (i, certificate) in config.certificates.iter().enumerate() {
            let cert_path = dir.join(&certificate.cert);
            let key_path = dir.join(&certificate.key);
            let file_error = |path: &Path, reason: String| TlsError::File {
                key: format!(
                    "certificates[{i}].{}",
                    if path == cert_path { "cert" } else { "key" }
                ),
                path: path.display().to_string(),
                reason,
            };
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
                .map_err(|e| file_error(&cert_path, e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| file_error(&cert_path, e.to_string()))?;
            if chain.is_empty() {
                return Err(file_error(&cert_path, "no certificate in the file".into()));
            }
            let key = PrivateKeyDer::from_pem_file(&key_path)
                .map_err(|e| file_error(&key_path, e.to_string()))?;
            let signing_key = provider
                .key_provider
                .load_private_key(key)
                .map_err(|e| file_error(&key_path, e.to_string()))?;
            let certified = CertifiedKey::new(chain, signing_key);
            certified.keys_match().map_err(|e| {
                file_error(&key_path, format!("does not match the certificate: {e}"))
            })?;
            certificates.push(NamedCertificate {
                names: certificate
                    .server_names
                    .iter()
                    .map(|n| n.to_ascii_lowercase())
                    .collect(),
                key: Arc::new(certified),
            });
        }
        Ok(certificates)
    }
}

/// Reload `store` on SIGHUP and whenever its files change, forever.
pub async fn watch_certificates(store: Arc<CertificateStore>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).ok();
    let mut poll = tokio::time::interval(POLL_INTERVAL);
    loop {
        let cause = tokio::select! {
            Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => None } } => "SIGHUP",
            _ = poll.tick() => {
                if !store.changed() {
                    continue;
                }
                "file change"
            }
        };
        match store.reload() {
            Ok(()) => tracing::info!(cause, "TLS certificates reloaded"),
            Err(e) => tracing::error!(
                cause,
                "TLS certificates not reloaded, keeping the current ones: {e}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_one_label() {
        assert!(name_matches("a.example", "a.example"));
        assert!(name_matches("*.example", "api.example"));
        assert!(!name_matches("*.example", "a.b.example"));
        assert!(!name_matches("*.example", "example"));
        assert!(!name_matches("*.example", "badexample"));
    }
}
