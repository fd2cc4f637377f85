//! Raw bytes over a socket, for requests a well-behaved client library
//! refuses to send.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Gateway;

/// Read until the peer closes; what was read, or `None` if it stays open
/// past `bound`.
pub async fn read_until_closed(stream: &mut TcpStream, bound: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + bound;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

/// Send raw bytes and read until the gateway closes the connection; panics
/// if it is still open after 10 s.
pub async fn exchange(gateway: &Gateway, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(gateway.addr).await.expect("connect");
    stream.write_all(raw).await.expect("write");
    let answer = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("the gateway left the connection open");
    String::from_utf8_lossy(&answer).into_owned()
}
