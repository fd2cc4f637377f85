//! Certificates made at test time: a CA and leaf certificates it signs.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls_pki_types::CertificateDer;

/// A test CA.
pub struct Pki {
    /// Where certificate and key files are written.
    pub dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate written to disk.
pub struct Leaf {
    /// PEM chain file.
    pub cert: PathBuf,
    /// PEM key file.
    pub key: PathBuf,
    /// The certificate.
    pub der: CertificateDer<'static>,
}

impl Pki {
    /// A fresh CA.
    pub fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Portcullis test CA");
        let key = KeyPair::generate().expect("CA key");
        let ca = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        Pki {
            dir: tempfile::tempdir().expect("temp dir"),
            ca,
        }
    }

    /// A leaf for `names`, written as `<file>.pem` and `<file>.key`.
    pub fn leaf(&self, file: &str, names: &[&str]) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("params");
        params.distinguished_name.push(DnType::CommonName, file);
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.ca).expect("leaf certificate");
        let cert_path = self.dir.path().join(format!("{file}.pem"));
        let key_path = self.dir.path().join(format!("{file}.key"));
        std::fs::write(&cert_path, cert.pem()).expect("write cert");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        Leaf {
            cert: cert_path,
            key: key_path,
            der: cert.der().clone(),
        }
    }

    /// The CA certificate as a PEM file, for `client_ca`.
    pub fn ca_file(&self) -> PathBuf {
        let path = self.dir.path().join("ca.pem");
        std::fs::write(&path, self.ca.pem()).expect("write CA");
        path
    }

    /// A client config trusting this CA, offering `alpn`, limited to
    /// `versions`.
    pub fn client(
        &self,
        alpn: &[&[u8]],
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<rustls::ClientConfig> {
        self.client_with(alpn, versions, None)
    }

    /// Like [`Pki::client`], presenting `certificate` when asked.
    pub fn client_with(
        &self,
        alpn: &[&[u8]],
        versions: &[&'static rustls::SupportedProtocolVersion],
        certificate: Option<&Leaf>,
    ) -> Arc<rustls::ClientConfig> {
        use rustls_pki_types::PrivateKeyDer;
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.der().clone()).expect("add CA");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .expect("versions")
            .with_root_certificates(roots);
        let mut config = match certificate {
            Some(leaf) => {
                let key = PrivateKeyDer::from_pem_file(&leaf.key).expect("client key");
                builder
                    .with_client_auth_cert(vec![leaf.der.clone()], key)
                    .expect("client certificate")
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        // Every connection does a full handshake, so the certificate it
        // reports is the one the server presented now, not a resumed one.
        config.resumption = rustls::client::Resumption::disabled();
        Arc::new(config)
    }
}

impl Pki {
    /// A server config presenting `leaf`; with `verify_clients`, it
    /// requires client certificates signed by this CA.
    pub fn server(&self, leaf: &Leaf, verify_clients: bool) -> Arc<rustls::ServerConfig> {
        use rustls_pki_types::PrivateKeyDer;
        use rustls_pki_types::pem::PemObject;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("versions");
        let builder = if verify_clients {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca.der().clone()).expect("add CA");
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::from_pem_file(&leaf.key).expect("key");
        Arc::new(
            builder
                .with_single_cert(vec![leaf.der.clone()], key)
                .expect("server config"),
        )
    }
}
