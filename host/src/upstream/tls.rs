//! TLS to upstream targets: verified against the Mozilla roots or a
//! configured CA, with an optional client certificate for upstream mTLS.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::ring::default_provider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::UpstreamTlsConfig;

/// The rustls client config for one route's upstream.
pub fn client_config(
    config: &UpstreamTlsConfig,
    dir: &Path,
) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match &config.ca {
        Some(ca) => {
            let path = dir.join(ca);
            let certs = CertificateDer::pem_file_iter(&path)
                .map_err(|e| format!("tls.ca: {}: {e}", path.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("tls.ca: {}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("tls.ca: {}: {e}", path.display()))?;
            }
            if roots.is_empty() {
                return Err(format!(
                    "tls.ca: {}: no certificate in the file",
                    path.display()
                ));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("tls: {e}"))?
        .with_root_certificates(roots);
    match (&config.client_cert, &config.client_key) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), Some(key)) => {
            let cert_path = dir.join(cert);
            let key_path = dir.join(key);
            let chain = CertificateDer::pem_file_iter(&cert_path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("tls.client_cert: {}: {e}", cert_path.display()))?;
            let key = PrivateKeyDer::from_pem_file(&key_path)
                .map_err(|e| format!("tls.client_key: {}: {e}", key_path.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("tls.client_key: {}: {e}", key_path.display()))
        }
        _ => Err("tls: give both client_cert and client_key, or neither".into()),
    }
}
