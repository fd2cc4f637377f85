//! The admin API over TLS: a client certificate the admin CA verified
//! authenticates a caller as the bearer token does; without either the
//! call gets 401; a certificate from another CA is refused in the
//! handshake.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::version::TLS13;
use sha2::{Digest, Sha256};

use crate::support::client::tls_get;
use crate::support::pki::Pki;
use crate::support::{Gateway, Origin};

const TOKEN: &str = "admin-token-for-the-tls-test";

/// GET `path` from the admin API at `addr` over TLS: the status, or why
/// there was none.
async fn get(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    path: &str,
    token: Option<&str>,
) -> Result<u16, String> {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|b| ("authorization", b))
        .into_iter()
        .collect();
    tls_get(addr, config, "admin.test", path, &headers)
        .await
        .map(|status| status.as_u16())
}

#[tokio::test(flavor = "multi_thread")]
async fn client_certificates_or_the_token_authenticate_admin_calls() {
    let pki = Pki::new();
    let server = pki.leaf("admin", &["admin.test"]);
    let client = pki.leaf("operator", &["operator.test"]);
    let other_ca = Pki::new();
    let stranger = other_ca.leaf("stranger", &["stranger.test"]);
    let origin = Origin::start().await;
    let gateway = Gateway::start(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntoken_sha256 = \"{}\"\n[admin.tls]\ncertificates = [{{ cert = {:?}, key = {:?}, server_names = [\"admin.test\"] }}]\nclient_auth = \"optional\"\nclient_ca = {:?}\n{}",
        hex::encode(Sha256::digest(TOKEN)),
        server.cert.display().to_string(),
        server.key.display().to_string(),
        pki.ca_file().display().to_string(),
        origin.route_all(),
    ));
    let addr: SocketAddr = gateway
        .admin_url()
        .trim_start_matches("http://")
        .parse()
        .expect("admin address");

    let anonymous = pki.client(&[b"http/1.1"], &[&TLS13]);
    assert_eq!(get(addr, anonymous.clone(), "/routes", None).await, Ok(401));
    assert_eq!(get(addr, anonymous, "/routes", Some(TOKEN)).await, Ok(200));

    let operator = pki.client_with(&[b"http/1.1"], &[&TLS13], Some(&client));
    assert_eq!(get(addr, operator, "/routes", None).await, Ok(200));
    assert!(gateway.wait_for_log(|l| l.contains("\"admin call\"") && l.contains("certificate:CN=operator")));

    let outsider = pki.client_with(&[b"http/1.1"], &[&TLS13], Some(&stranger));
    let refused = get(addr, outsider, "/routes", None).await;
    assert!(
        refused.is_err(),
        "a certificate from another CA got {refused:?}"
    );
}
