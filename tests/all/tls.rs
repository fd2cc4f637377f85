//! HTTPS: real handshakes with certificates made at test time.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::version::{TLS12, TLS13};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::support::pki::{Leaf, Pki};
use crate::support::{Gateway, Origin, fixture};

fn tls_config(leaves: &[(&Leaf, &[&str])], origin: &Origin) -> String {
    tls_config_with("", leaves, origin, "")
}

/// `tls_keys` go into `[server.tls]`; `extra_routes` come first.
fn tls_config_with(
    tls_keys: &str,
    leaves: &[(&Leaf, &[&str])],
    origin: &Origin,
    extra_routes: &str,
) -> String {
    let mut certificates = format!("[server.tls]\n{tls_keys}\n\n");
    for (leaf, names) in leaves {
        let names: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
        certificates.push_str(&format!(
            "[[server.tls.certificates]]\ncert = {:?}\nkey = {:?}\nserver_names = [{}]\n\n",
            leaf.cert.display().to_string(),
            leaf.key.display().to_string(),
            names.join(", ")
        ));
    }
    format!(
        r#"
{certificates}
[plugins.misbehave]
path = {wasm:?}

{extra_routes}

[[routes]]
id = "secure"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{target}"] }}
plugins = [{{ name = "misbehave" }}]
"#,
        wasm = fixture("misbehave").display().to_string(),
        target = origin.target()
    )
}

/// Handshake with `sni`, offering `alpn`.
async fn connect(
    gateway: &Gateway,
    config: Arc<rustls::ClientConfig>,
    sni: &str,
) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(gateway.addr).await.expect("connect");
    let name = ServerName::try_from(sni.to_string()).expect("server name");
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .expect("TLS handshake")
}

/// GET `path` over an established TLS stream, HTTP/1.1 or h2 as negotiated.
async fn get_over(
    stream: TlsStream<TcpStream>,
    host: &str,
    path: &str,
) -> (http::response::Parts, Bytes) {
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    let request = Request::get(format!("https://{host}{path}"))
        .header("host", host)
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = if h2 {
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .expect("h2 handshake");
        tokio::spawn(conn);
        send.send_request(request).await.expect("h2 request")
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("h1 handshake");
        tokio::spawn(conn);
        send.send_request(request).await.expect("h1 request")
    };
    let (parts, body) = response.into_parts();
    (parts, body.collect().await.expect("body").to_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn https_is_served_with_hsts_and_plugins_see_the_tls_facts() {
    let pki = Pki::new();
    let leaf = pki.leaf("a", &["a.test"]);
    let origin = Origin::start().await;
    let gateway = Gateway::start(&tls_config(&[(&leaf, &["a.test"])], &origin));

    let stream = connect(&gateway, pki.client(&[b"http/1.1"], &[&TLS13]), "a.test").await;
    let (parts, body) = get_over(stream, "a.test", "/inspect").await;
    assert_eq!(parts.status, 200);
    assert_eq!(
        parts.headers["strict-transport-security"],
        "max-age=63072000"
    );
    let seen: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(seen["headers"]["x-forwarded-proto"][0], "https");
    assert_eq!(seen["headers"]["x-seen-scheme"][0], "https");
    assert_eq!(seen["headers"]["x-seen-tls"][0], "TLSv1.3/a.test");
}

#[tokio::test(flavor = "multi_thread")]
async fn sni_selects_the_certificate_and_alpn_negotiates_h2() {
    let pki = Pki::new();
    let a = pki.leaf("a", &["a.test"]);
    let b = pki.leaf("b", &["*.b.test"]);
    let origin = Origin::start().await;
    let gateway = Gateway::start(&tls_config(
        &[(&a, &["a.test"]), (&b, &["*.b.test"])],
        &origin,
    ));
    let client = pki.client(&[b"h2", b"http/1.1"], &[&TLS13, &TLS12]);

    let to_b = connect(&gateway, client.clone(), "api.b.test").await;
    let presented = to_b.get_ref().1.peer_certificates().expect("certificates")[0].clone();
    assert_eq!(
        presented, b.der,
        "SNI api.b.test gets the *.b.test certificate"
    );
    assert_eq!(to_b.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (parts, _) = get_over(to_b, "api.b.test", "/inspect").await;
    assert_eq!(parts.status, 200);
    assert_eq!(parts.version, http::Version::HTTP_2);

    let to_a = connect(&gateway, client, "a.test").await;
    let presented = to_a.get_ref().1.peer_certificates().expect("certificates")[0].clone();
    assert_eq!(presented, a.der, "SNI a.test gets the a.test certificate");
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_1_2_is_accepted_and_seen_by_plugins() {
    let pki = Pki::new();
    let leaf = pki.leaf("a", &["a.test"]);
    let origin = Origin::start().await;
    let gateway = Gateway::start(&tls_config(&[(&leaf, &["a.test"])], &origin));

    let stream = connect(&gateway, pki.client(&[b"http/1.1"], &[&TLS12]), "a.test").await;
    let (parts, body) = get_over(stream, "a.test", "/inspect").await;
    assert_eq!(parts.status, 200);
    let seen: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(seen["headers"]["x-seen-tls"][0], "TLSv1.2/a.test");
}

/// A ClientHello offering only `version` (e.g. `[3, 2]` for TLS 1.1), with
/// the CBC suites and extensions a TLS 1.0/1.1 client sends. rustls cannot
/// speak these versions even as a client, so the bytes are written by hand.
fn legacy_client_hello(version: [u8; 2], server_name: &str) -> Vec<u8> {
    let name = server_name.as_bytes();
    let mut sni = vec![0];
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
    let mut extensions = Vec::new();
    let mut extension = |kind: u16, data: &[u8]| {
        extensions.extend_from_slice(&kind.to_be_bytes());
        extensions.extend_from_slice(&(data.len() as u16).to_be_bytes());
        extensions.extend_from_slice(data);
    };
    let mut server_name_list = (sni.len() as u16).to_be_bytes().to_vec();
    server_name_list.extend_from_slice(&sni);
    extension(0x0000, &server_name_list); // server_name
    extension(0x000a, &[0, 4, 0, 23, 0, 29]); // supported_groups: P-256, X25519
    extension(0x000b, &[1, 0]); // ec_point_formats: uncompressed
    let mut hello = version.to_vec();
    hello.extend_from_slice(&[7u8; 32]); // random
    hello.push(0); // no session id
    hello.extend_from_slice(&[0, 6, 0xc0, 0x13, 0xc0, 0x14, 0x00, 0x2f]); // CBC suites
    hello.extend_from_slice(&[1, 0]); // null compression
    hello.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    hello.extend_from_slice(&extensions);
    let mut handshake = vec![1, 0];
    handshake.extend_from_slice(&(hello.len() as u16).to_be_bytes());
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 3, 1];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_1_1_and_1_0_clients_are_refused_with_a_fatal_alert() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pki = Pki::new();
    let leaf = pki.leaf("a", &["a.test"]);
    let origin = Origin::start().await;
    let gateway = Gateway::start(&tls_config(&[(&leaf, &["a.test"])], &origin));

    for (version, label) in [([3, 2], "TLS 1.1"), ([3, 1], "TLS 1.0")] {
        let mut stream = TcpStream::connect(gateway.addr).await.expect("connect");
        stream
            .write_all(&legacy_client_hello(version, "a.test"))
            .await
            .expect("write");
        let mut answer = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "{label}: the connection stayed open");
        // No ServerHello, one fatal (2) alert: handshake_failure (40), as
        // such a client sends no signature_algorithms to pick a certificate
        // by, or protocol_version (70).
        assert!(
            answer.len() >= 7 && answer[0] == 0x15 && answer[5] == 2,
            "{label}: expected a fatal alert, got {answer:?}"
        );
        assert!(matches!(answer[6], 40 | 70), "{label}: {answer:?}");
    }
    // A TLS 1.2 client on the same listener still gets through.
    let stream = connect(&gateway, pki.client(&[b"http/1.1"], &[&TLS12]), "a.test").await;
    let (parts, _) = get_over(stream, "a.test", "/").await;
    assert_eq!(parts.status, 200);
    assert_eq!(origin.hits(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_is_redirected_with_308_or_refused_per_route() {
    let pki = Pki::new();
    let leaf = pki.leaf("a", &["a.test"]);
    let origin = Origin::start().await;
    // `/api` refuses plain HTTP; everything else is redirected.
    let refusing = format!(
        "[[routes]]\nid = \"api\"\npath = {{ prefix = \"/api\" }}\nplain_http = \"refuse\"\nupstream = {{ targets = [\"{}\"] }}\n",
        origin.target()
    );
    let gateway = Gateway::start_with_server_keys(
        "http_redirect_listen = \"127.0.0.1:0\"",
        &tls_config_with("", &[(&leaf, &["a.test"])], &origin, &refusing),
    );
    let mut redirect_addr = None;
    assert!(gateway.wait_for_log(|line| {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        if value["message"] == "redirecting plain HTTP to HTTPS" {
            redirect_addr = value["addr"].as_str().map(str::to_string);
        }
        redirect_addr.is_some()
    }));
    let url = format!(
        "http://{}/pay?x=1",
        redirect_addr.clone().expect("redirect listener address")
    );
    let reply = crate::support::send("POST", &url, &[("host", "a.test")], "body").await;
    assert_eq!(reply.status, 308);
    assert_eq!(
        reply.header("location"),
        Some(format!("https://a.test:{}/pay?x=1", gateway.addr.port()).as_str())
    );
    let api = format!(
        "http://{}/api/orders",
        redirect_addr.expect("redirect listener address")
    );
    let refused = crate::support::send("GET", &api, &[("host", "a.test")], "").await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.json()["error"],
        "this API is served over HTTPS only"
    );
    assert!(refused.header("location").is_none());
    assert_eq!(origin.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_finishes_the_handshake_is_dropped() {
    use tokio::io::AsyncReadExt;
    let pki = Pki::new();
    let leaf = pki.leaf("a", &["a.test"]);
    let origin = Origin::start().await;
    let config = tls_config_with(
        "handshake_timeout_ms = 300",
        &[(&leaf, &["a.test"])],
        &origin,
        "",
    );
    let gateway = Gateway::start(&config);
    let mut silent = TcpStream::connect(gateway.addr).await.expect("connect");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the silent connection was not closed: {read:?}"
    );
}

/// Try a GET; an error if the connection is refused at any point.
async fn try_get(
    gateway: &Gateway,
    config: Arc<rustls::ClientConfig>,
    path: &str,
) -> Result<http::StatusCode, String> {
    crate::support::client::tls_get(gateway.addr, config, "a.test", path, &[]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn required_client_certificates_are_verified_and_handed_to_plugins() {
    use sha2::{Digest, Sha256};
    let pki = Pki::new();
    let server = pki.leaf("a", &["a.test"]);
    let client = pki.leaf("client-1", &["client-1.test"]);
    let other_ca = Pki::new();
    let stranger = other_ca.leaf("stranger", &["stranger.test"]);
    let origin = Origin::start().await;
    let tls_keys = format!(
        "client_auth = \"required\"\nclient_ca = {:?}",
        pki.ca_file().display().to_string()
    );
    let gateway = Gateway::start(&tls_config_with(
        &tls_keys,
        &[(&server, &["a.test"])],
        &origin,
        "",
    ));

    let without = try_get(&gateway, pki.client(&[b"http/1.1"], &[&TLS13]), "/inspect").await;
    assert!(
        without.is_err(),
        "a client without a certificate got {without:?}"
    );
    let untrusted = try_get(
        &gateway,
        pki.client_with(&[b"http/1.1"], &[&TLS13], Some(&stranger)),
        "/inspect",
    )
    .await;
    assert!(
        untrusted.is_err(),
        "a certificate from another CA got {untrusted:?}"
    );

    let stream = connect(
        &gateway,
        pki.client_with(&[b"http/1.1"], &[&TLS13], Some(&client)),
        "a.test",
    )
    .await;
    let (parts, body) = get_over(stream, "a.test", "/inspect").await;
    assert_eq!(parts.status, 200);
    let seen: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let fingerprint = hex::encode(Sha256::digest(client.der.as_ref()));
    assert_eq!(
        seen["headers"]["x-seen-client"][0],
        format!("CN=client-1|client-1.test|{fingerprint}")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn optional_client_certificates_gate_routes_that_require_them() {
    let pki = Pki::new();
    let server = pki.leaf("a", &["a.test"]);
    let client = pki.leaf("client-1", &["client-1.test"]);
    let origin = Origin::start().await;
    let tls_keys = format!(
        "client_auth = \"optional\"\nclient_ca = {:?}",
        pki.ca_file().display().to_string()
    );
    let admin_route = format!(
        "[[routes]]\nid = \"admin\"\npath = {{ prefix = \"/admin\" }}\nrequire_client_cert = true\nupstream = {{ targets = [\"{}\"] }}\n",
        origin.target()
    );
    let gateway = Gateway::start(&tls_config_with(
        &tls_keys,
        &[(&server, &["a.test"])],
        &origin,
        &admin_route,
    ));

    let anonymous = pki.client(&[b"http/1.1"], &[&TLS13]);
    assert_eq!(
        try_get(&gateway, anonymous.clone(), "/inspect").await,
        Ok(http::StatusCode::OK)
    );
    assert_eq!(
        try_get(&gateway, anonymous, "/admin/x").await,
        Ok(http::StatusCode::FORBIDDEN)
    );
    let identified = pki.client_with(&[b"http/1.1"], &[&TLS13], Some(&client));
    assert_eq!(
        try_get(&gateway, identified, "/admin/x").await,
        Ok(http::StatusCode::OK)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rotated_certificates_reach_new_handshakes_and_old_connections_live_on() {
    let pki = Pki::new();
    let first = pki.leaf("a", &["a.test"]);
    let origin = Origin::start().await;
    let gateway = Gateway::start(&tls_config(&[(&first, &["a.test"])], &origin));
    let client = pki.client(&[b"http/1.1"], &[&TLS13]);

    // An established connection, kept open across the rotation.
    let old = connect(&gateway, client.clone(), "a.test").await;
    assert_eq!(
        old.get_ref().1.peer_certificates().expect("chain")[0],
        first.der
    );
    let (mut old_conn, driver) = hyper::client::conn::http1::handshake(TokioIo::new(old))
        .await
        .expect("h1");
    tokio::spawn(driver);

    // Rotate: a new certificate written over the same files.
    let second = pki.leaf("a", &["a.test"]);
    assert_ne!(first.der, second.der);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let fresh = connect(&gateway, client.clone(), "a.test").await;
        if fresh.get_ref().1.peer_certificates().expect("chain")[0] == second.der {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "new handshakes never saw the new certificate"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let request = Request::get("/inspect")
        .header("host", "a.test")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let answer = old_conn
        .send_request(request)
        .await
        .expect("the old connection still works");
    assert_eq!(answer.status(), 200);

    // A broken certificate is refused; the current one stays.
    let refusals = || {
        gateway
            .logs()
            .iter()
            .filter(|l| l.contains("TLS certificates not reloaded"))
            .count()
    };
    let before = refusals();
    std::fs::write(&second.cert, "not a certificate").expect("write");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while refusals() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the broken certificate was not reported"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = connect(&gateway, client, "a.test").await;
    assert_eq!(
        after.get_ref().1.peer_certificates().expect("chain")[0],
        second.der
    );
}

fn tls_upstream(origin: &Origin, tls: &str) -> String {
    format!(
        r#"
[[routes]]
id = "to-tls-origin"
path = {{ prefix = "/" }}
upstream = {{ targets = ["{}"], tls = {{ {tls} }} }}
"#,
        origin.target()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_tls_verifies_the_target_and_sends_sni() {
    let pki = Pki::new();
    let origin_cert = pki.leaf("origin", &["origin.test"]);
    let origin = Origin::start_tls(pki.server(&origin_cert, false)).await;
    let ca = pki.ca_file().display().to_string();

    let trusting = Gateway::start(&tls_upstream(
        &origin,
        &format!("ca = {ca:?}, server_name = \"origin.test\""),
    ));
    let reply = crate::support::get(&trusting.url("/inspect")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["path"], "/inspect");

    let wrong_name = Gateway::start(&tls_upstream(
        &origin,
        &format!("ca = {ca:?}, server_name = \"other.test\""),
    ));
    assert_eq!(
        crate::support::get(&wrong_name.url("/inspect"))
            .await
            .status,
        502
    );

    let other_ca = Pki::new();
    let other = other_ca.ca_file().display().to_string();
    let distrusting = Gateway::start(&tls_upstream(
        &origin,
        &format!("ca = {other:?}, server_name = \"origin.test\""),
    ));
    assert_eq!(
        crate::support::get(&distrusting.url("/inspect"))
            .await
            .status,
        502
    );
    assert_eq!(
        origin.hits(),
        1,
        "only the verified connection carried a request"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_mutual_tls_presents_the_client_certificate() {
    let pki = Pki::new();
    let origin_cert = pki.leaf("origin", &["origin.test"]);
    let gateway_cert = pki.leaf("gateway", &["gateway.test"]);
    let origin = Origin::start_tls(pki.server(&origin_cert, true)).await;
    let ca = pki.ca_file().display().to_string();

    let with_cert = Gateway::start(&tls_upstream(
        &origin,
        &format!(
            "ca = {ca:?}, server_name = \"origin.test\", client_cert = {:?}, client_key = {:?}",
            gateway_cert.cert.display().to_string(),
            gateway_cert.key.display().to_string()
        ),
    ));
    assert_eq!(
        crate::support::get(&with_cert.url("/inspect")).await.status,
        200
    );

    let without = Gateway::start(&tls_upstream(
        &origin,
        &format!("ca = {ca:?}, server_name = \"origin.test\""),
    ));
    assert_eq!(
        crate::support::get(&without.url("/inspect")).await.status,
        502
    );
}
