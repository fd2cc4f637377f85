//! TLS termination with rustls: TLS 1.2 and 1.3 only, rustls' default safe
//! cipher suites, ALPN `h2` and `http/1.1`, certificates chosen by SNI.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::ring::default_provider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use rustls::server::WebPkiClientVerifier;

use crate::config::{ClientAuth, HstsConfig, TlsConfig};

/// Why TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {reason}")]
    File {
        /// The config key naming the file, e.g. `certificates[0].cert`.
        key: String,
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the settings.
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
}

/// Facts about a TLS connection, handed to plugins.
#[derive(Debug, Clone, Default)]
pub struct TlsFacts {
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: Option<String>,
    /// The SNI name the client sent.
    pub sni: Option<String>,
    /// The negotiated ALPN protocol.
    pub alpn: Option<String>,
    /// The verified client certificate, if one was presented.
    pub client: Option<ClientCertificate>,
}

/// Facts of a verified client certificate.
#[derive(Debug, Clone, Default)]
pub struct ClientCertificate {
    /// Subject distinguished name, RFC 4514 style (`CN=client-1, O=...`).
    pub subject: String,
    /// DNS, e-mail and URI subject alternative names.
    pub sans: Vec<String>,
    /// SHA-256 of the DER certificate, lower-case hex.
    pub fingerprint: String,
}

/// A certificate and the names it answers.
#[derive(Debug)]
struct NamedCertificate {
    names: Vec<String>,
    key: Arc<CertifiedKey>,
}

/// Picks the certificate whose names match the SNI name (exact, then
/// wildcard), else the first one.
#[derive(Debug)]
struct SniResolver {
    certificates: Vec<NamedCertificate>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = hello
            .server_name()
            .map(str::to_ascii_lowercase)
            .and_then(|sni| {
                self.certificates
                    .iter()
                    .find(|c| c.names.iter().any(|n| name_matches(n, &sni)))
            });
        chosen
            .or_else(|| self.certificates.first())
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

/// Load certificates and keys (paths relative to `dir`) into a rustls
/// server config.
pub fn server_config(
    config: &TlsConfig,
    dir: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(default_provider());
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
        certified
            .keys_match()
            .map_err(|e| file_error(&key_path, format!("does not match the certificate: {e}")))?;
        certificates.push(NamedCertificate {
            names: certificate
                .server_names
                .iter()
                .map(|n| n.to_ascii_lowercase())
                .collect(),
            key: Arc::new(certified),
        });
    }
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match (config.client_auth, &config.client_ca) {
        (ClientAuth::None, _) | (_, None) => builder.with_no_client_auth(),
        (auth, Some(ca)) => {
            let ca_path = dir.join(ca);
            let ca_error = |reason: String| TlsError::File {
                key: "client_ca".into(),
                path: ca_path.display().to_string(),
                reason,
            };
            let mut roots = rustls::RootCertStore::empty();
            for cert in
                CertificateDer::pem_file_iter(&ca_path).map_err(|e| ca_error(e.to_string()))?
            {
                roots
                    .add(cert.map_err(|e| ca_error(e.to_string()))?)
                    .map_err(|e| ca_error(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(ca_error("no certificate in the file".into()));
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match auth {
                ClientAuth::Optional => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            let verifier = verifier.build().map_err(|e| ca_error(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server = builder.with_cert_resolver(Arc::new(SniResolver { certificates }));
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(server))
}

/// The `Strict-Transport-Security` value, if enabled.
pub fn hsts_value(hsts: &HstsConfig) -> Option<http::HeaderValue> {
    if !hsts.enabled {
        return None;
    }
    let mut value = format!("max-age={}", hsts.max_age);
    if hsts.include_subdomains {
        value.push_str("; includeSubDomains");
    }
    if hsts.preload {
        value.push_str("; preload");
    }
    http::HeaderValue::from_str(&value).ok()
}

/// Facts of an established server connection.
pub fn facts(connection: &rustls::ServerConnection) -> TlsFacts {
    TlsFacts {
        version: connection.protocol_version().map(|v| match v {
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
            other => format!("{other:?}"),
        }),
        sni: connection.server_name().map(str::to_string),
        alpn: connection
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        // rustls hands out peer certificates only after verifying them.
        client: connection
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(client_certificate),
    }
}

fn client_certificate(der: &CertificateDer<'_>) -> ClientCertificate {
    use sha2::{Digest, Sha256};
    use x509_parser::extensions::GeneralName;
    let fingerprint = hex::encode(Sha256::digest(der.as_ref()));
    match x509_parser::parse_x509_certificate(der.as_ref()) {
        Ok((_, cert)) => {
            let sans = cert
                .subject_alternative_name()
                .ok()
                .flatten()
                .map(|ext| {
                    ext.value
                        .general_names
                        .iter()
                        .filter_map(|name| match name {
                            GeneralName::DNSName(n)
                            | GeneralName::RFC822Name(n)
                            | GeneralName::URI(n) => Some(n.to_string()),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            ClientCertificate {
                subject: cert.subject().to_string(),
                sans,
                fingerprint,
            }
        }
        // Verified by rustls but not parsable here: keep the fingerprint.
        Err(_) => ClientCertificate {
            fingerprint,
            ..ClientCertificate::default()
        },
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

    #[test]
    fn hsts_defaults_to_two_years() {
        let value = hsts_value(&HstsConfig::default()).expect("enabled");
        assert_eq!(value, "max-age=63072000");
        let all = HstsConfig {
            include_subdomains: true,
            preload: true,
            ..HstsConfig::default()
        };
        assert_eq!(
            hsts_value(&all).expect("enabled"),
            "max-age=63072000; includeSubDomains; preload"
        );
    }
}
