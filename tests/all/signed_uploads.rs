//! Signed upload URLs through the gateway: issued to an authenticated
//! caller, verified natively, and a 200 MiB body streamed past the route's
//! body limit while the gateway's peak memory barely moves.

use std::time::Duration;

use portcullis_host::uploads::UploadKey;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Gateway, fixture, send};

const KEY: &str = "upload-key-for-tests-0123456789abcdef";
const MIB: u64 = 1024 * 1024;

/// An upstream that reads each request's body to the end without keeping
/// it, and answers with the number of bytes it got.
async fn counting_upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                let mut length = 0u64;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut buf = vec![0u8; 64 * 1024];
                let mut received = 0u64;
                while received < length {
                    match reader.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => received += n as u64,
                    }
                }
                let body = format!("{received}");
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = reader.get_mut().write_all(reply.as_bytes()).await;
            });
        }
    });
    addr
}

fn config(upstream: &str) -> String {
    format!(
        r#"
[upload_keys]
uploads = "{KEY}"

[plugins.identify]
path = "{identify}"
role = "authentication"

[[routes]]
id = "sign"
path = {{ exact = "/uploads/sign" }}
upstream = {{ builtin = "upload-signer" }}
plugins = [{{ name = "identify" }}]
upload_signer = {{ key = "uploads", path_prefix = "/uploads/", max_bytes = 314572800 }}

[[routes]]
id = "uploads"
path = {{ prefix = "/uploads/" }}
upstream = {{ targets = ["{upstream}"] }}
max_body_bytes = 1048576
signed_uploads = {{ key = "uploads" }}
"#,
        identify = fixture("identify").display()
    )
}

async fn sign(gateway: &Gateway, request: serde_json::Value) -> crate::support::client::Reply {
    let headers = [("x-user", "alice"), ("content-type", "application/json")];
    send(
        "POST",
        &gateway.url("/uploads/sign"),
        &headers,
        request.to_string(),
    )
    .await
}

/// `path?query` of a signed URL.
fn target_of(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme[after_scheme.find('/').expect("a path")..].to_string()
}

/// PUT `size` bytes to `target` in 1 MiB writes, announcing `length`
/// (None: chunked); the status and body of the reply.
async fn upload(
    gateway: &Gateway,
    target: &str,
    length: Option<u64>,
    size: u64,
    content_type: &str,
) -> (u16, String) {
    let addr = gateway
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut stream = TcpStream::connect(&addr).await.expect("connect");
    let framing = match length {
        Some(length) => format!("content-length: {length}"),
        None => "transfer-encoding: chunked".to_string(),
    };
    let head = format!(
        "PUT {target} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: {content_type}\r\n{framing}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let chunk = vec![b'x'; MIB as usize];
    let mut sent = 0;
    while sent < size {
        let n = (size - sent).min(MIB) as usize;
        let written = match length {
            Some(_) => stream.write_all(&chunk[..n]).await,
            None => stream
                .write_all(format!("{n:x}\r\n").as_bytes())
                .await
                .and(stream.write_all(&chunk[..n]).await)
                .and(stream.write_all(b"\r\n").await),
        };
        if written.is_err() {
            break; // refused early: read the answer
        }
        sent += n as u64;
    }
    if length.is_none() {
        let _ = stream.write_all(b"0\r\n\r\n").await;
    }
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut reply)).await;
    let text = String::from_utf8_lossy(&reply).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_string());
    (status, body)
}

/// `target` re-signed with the right key for another host.
fn signed_for_another_host(target: &str) -> (String, &'static str) {
    let (path, _) = target.split_once('?').expect("a query");
    let query = UploadKey::new(KEY.as_bytes()).sign(
        "PUT",
        "files.example.com",
        path,
        u64::MAX / 2,
        4 * MIB,
        Some("image/png"),
    );
    (format!("{path}?{query}"), "files.example.com")
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[tokio::test]
async fn a_200_mib_upload_streams_through_on_a_signed_url_in_bounded_memory() {
    let upstream = counting_upstream().await;
    let gateway = Gateway::start(&config(&upstream));

    let signed = sign(&gateway, serde_json::json!({"path": "/uploads/big.bin", "max_bytes": 200 * MIB, "content_type": "application/octet-stream"})).await;
    assert_eq!(signed.status, 200, "{}", signed.text());
    assert_eq!(signed.header("cache-control"), Some("no-store"));
    let target = target_of(signed.json()["url"].as_str().expect("url"));

    // Warm up, then measure the peak across the big upload.
    let (status, _) = upload(&gateway, "/uploads/warm", Some(1000), 1000, "text/plain").await;
    assert_eq!(status, 403, "unsigned requests are refused on this route");
    let before = peak_rss_kib(gateway.pid());
    let (status, body) = upload(
        &gateway,
        &target,
        Some(200 * MIB),
        200 * MIB,
        "application/octet-stream",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, (200 * MIB).to_string(), "the upstream got every byte");
    let growth_mib = (peak_rss_kib(gateway.pid()) - before) as f64 / 1024.0;
    eprintln!("peak RSS grew by {growth_mib:.1} MiB over a 200 MiB upload");
    assert!(growth_mib < 32.0, "peak RSS grew by {growth_mib:.1} MiB");
}

#[tokio::test]
async fn bad_signed_urls_are_refused() {
    let upstream = counting_upstream().await;
    let gateway = Gateway::start(&config(&upstream));
    let signed = sign(&gateway, serde_json::json!({"path": "/uploads/a.bin", "max_bytes": 4 * MIB, "content_type": "image/png"})).await;
    let target = target_of(signed.json()["url"].as_str().expect("url"));
    let octets = "image/png";

    assert_eq!(
        upload(&gateway, &target, Some(2 * MIB), 2 * MIB, octets)
            .await
            .0,
        200,
        "past the route's 1 MiB limit"
    );
    let tampered = target.replace(
        &format!("pc-max-bytes={}", 4 * MIB),
        &format!("pc-max-bytes={}", 400 * MIB),
    );
    assert_eq!(
        upload(&gateway, &tampered, Some(1000), 1000, octets)
            .await
            .0,
        403
    );
    let elsewhere = target.replace("/uploads/a.bin", "/uploads/b.bin");
    assert_eq!(
        upload(&gateway, &elsewhere, Some(1000), 1000, octets)
            .await
            .0,
        403
    );
    assert_eq!(
        upload(&gateway, &target, Some(1000), 1000, "text/html")
            .await
            .0,
        403,
        "another content type"
    );
    assert_eq!(
        upload(&gateway, &target, Some(5 * MIB), 5 * MIB, octets)
            .await
            .0,
        413,
        "over the signed size"
    );
    assert_eq!(
        upload(&gateway, &target, None, 1000, octets).await.0,
        411,
        "no length"
    );

    let host = gateway.url("");
    let host = host.trim_start_matches("http://").trim_end_matches('/');
    let expired =
        UploadKey::new(KEY.as_bytes()).sign("PUT", host, "/uploads/a.bin", 1_000_000, MIB, None);
    let (other_host, name) = signed_for_another_host(&target);
    assert_eq!(
        upload(&gateway, &other_host, Some(10), 10, octets).await.0,
        403,
        "signed for {name}"
    );
    assert_eq!(
        upload(
            &gateway,
            &format!("/uploads/a.bin?{expired}"),
            Some(10),
            10,
            octets
        )
        .await
        .0,
        403
    );
}

#[tokio::test]
async fn only_authenticated_callers_get_urls_and_only_within_bounds() {
    let upstream = counting_upstream().await;
    let gateway = Gateway::start(&config(&upstream));
    let anonymous = send(
        "POST",
        &gateway.url("/uploads/sign"),
        &[],
        r#"{"path":"/uploads/a","max_bytes":10}"#,
    )
    .await;
    assert_eq!(anonymous.status, 401);
    for request in [
        serde_json::json!({"path": "/elsewhere/a", "max_bytes": 10}),
        serde_json::json!({"path": "/uploads/../etc", "max_bytes": 10}),
        serde_json::json!({"path": "/uploads/%2e%2e/etc", "max_bytes": 10}),
        serde_json::json!({"path": "/uploads-private/a", "max_bytes": 10}),
        serde_json::json!({"path": "/uploads/a", "max_bytes": 400 * MIB}),
        serde_json::json!({"path": "/uploads/a", "max_bytes": 10, "expires_in": 86400}),
        serde_json::json!({"path": "/uploads/a", "max_bytes": 10, "method": "DELETE"}),
        serde_json::json!({"path": "/uploads/a"}),
    ] {
        assert_eq!(
            sign(&gateway, request.clone()).await.status,
            400,
            "{request}"
        );
    }
}
