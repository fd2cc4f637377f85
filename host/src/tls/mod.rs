//! TLS termination with rustls: TLS 1.2 and 1.3 only, rustls' default safe
//! cipher suites, ALPN `h2` and `http/1.1`, certificates chosen by SNI and
//! reloaded without a restart ([`certificates`]), optional client
//! certificates.

mod certificates;

use certificates::SniResolver;
pub use certificates::{CertificateStore, watch_certificates};

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::ring::default_provider;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

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

/// Load certificates and keys (paths relative to `dir`) into a rustls
/// server config whose certificates can be reloaded (see [`CertificateStore`]).
pub fn server_config(
    config: &TlsConfig,
    dir: &Path,
) -> Result<(Arc<rustls::ServerConfig>, Arc<CertificateStore>), TlsError> {
    let provider = Arc::new(server_provider());
    let store = Arc::new(CertificateStore::load(config, dir, provider.clone())?);
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
    let mut server = builder.with_cert_resolver(Arc::new(SniResolver(store.clone())));
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // The server's suite order (AEADs, strongest first) wins over a
    // client's preference, as nginx's `ssl_prefer_server_ciphers`.
    server.ignore_client_order = true;
    // Stateless session tickets (keys rotated by rustls every 6 hours) let
    // returning clients skip the full handshake, TLS 1.2 and 1.3 alike.
    server.ticketer = rustls::crypto::ring::Ticketer::new()?;
    Ok((Arc::new(server), store))
}

/// rustls' default suites (all AEAD, forward-secret), ordered as Mozilla's
/// "intermediate" profile orders them: AES-128-GCM before AES-256-GCM
/// before ChaCha20, within each version. The server's order is the one
/// used (`ignore_client_order`), and AES-128 is as safe and cheaper.
fn server_provider() -> rustls::crypto::CryptoProvider {
    let mut provider = default_provider();
    let rank = |suite: &rustls::SupportedCipherSuite| {
        let name = format!("{:?}", suite.suite());
        let bulk = if name.contains("AES_128") {
            0
        } else if name.contains("AES_256") {
            1
        } else {
            2
        };
        (suite.tls13().is_none(), bulk)
    };
    provider.cipher_suites.sort_by_key(rank);
    provider
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

    #[test]
    fn suites_prefer_aes_128_within_each_version() {
        let names: Vec<String> = server_provider()
            .cipher_suites
            .iter()
            .map(|suite| format!("{:?}", suite.suite()))
            .collect();
        assert_eq!(names[0], "TLS13_AES_128_GCM_SHA256");
        assert_eq!(names[1], "TLS13_AES_256_GCM_SHA384");
        assert_eq!(names[3], "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
    }
}
