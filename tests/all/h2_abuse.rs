//! HTTP/2 abuse, spoken in raw frames (h2c with prior knowledge): rapid
//! reset floods and connections opened and left idle.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::raw::read_until_closed;
use crate::support::{Gateway, Origin, get};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const END_STREAM_AND_HEADERS: u8 = 0x5;
const CANCEL: u32 = 0x8;
const ENHANCE_YOUR_CALM: u32 = 0xb;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// `GET /` for `a.test`, HPACK-encoded without the dynamic table.
fn get_root_headers() -> Vec<u8> {
    // :method GET, :scheme http, :path / (static table indexes), then
    // :authority as a literal with an indexed name.
    let mut block = vec![0x82, 0x86, 0x84, 0x01, 6];
    block.extend_from_slice(b"a.test");
    block
}

/// The frames a server sends, as (type, payload); stops at a truncated one.
fn frames(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 9 {
        let len = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]) as usize;
        if rest.len() < 9 + len {
            break;
        }
        out.push((rest[3], rest[9..9 + len].to_vec()));
        rest = &rest[9 + len..];
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rapid_reset_flood_gets_goaway_and_the_gateway_serves_on() {
    let origin = Origin::start().await;
    let gateway = Gateway::start(&origin.route_all());

    // Open and cancel 1000 streams in one burst (CVE-2023-44487).
    let mut flood = PREFACE.to_vec();
    flood.extend(frame(SETTINGS, 0, 0, &[]));
    let block = get_root_headers();
    for i in 0..1000u32 {
        let stream = 2 * i + 1;
        flood.extend(frame(HEADERS, END_STREAM_AND_HEADERS, stream, &block));
        flood.extend(frame(RST_STREAM, 0, stream, &CANCEL.to_be_bytes()));
    }
    let mut stream = TcpStream::connect(gateway.addr).await.expect("connect");
    // The gateway may hang up before taking every byte.
    let _ = stream.write_all(&flood).await;
    let answer = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("the flooding connection was left open");

    let goaway = frames(&answer)
        .into_iter()
        .find(|(kind, _)| *kind == GOAWAY)
        .expect("no GOAWAY frame");
    let code = u32::from_be_bytes(goaway.1[4..8].try_into().expect("error code"));
    assert_eq!(code, ENHANCE_YOUR_CALM);
    assert!(
        origin.hits() < 100,
        "{} cancelled streams still reached the upstream",
        origin.hits()
    );
    assert_eq!(get(&gateway.url("/")).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_h2_connection_is_closed_after_the_idle_timeout() {
    let origin = Origin::start().await;
    let gateway = Gateway::start_with_server_keys(
        "idle_timeout_ms = 300\nheader_read_timeout_ms = 60000",
        &origin.route_all(),
    );

    let mut stream = TcpStream::connect(gateway.addr).await.expect("connect");
    let mut hello = PREFACE.to_vec();
    hello.extend(frame(SETTINGS, 0, 0, &[]));
    stream.write_all(&hello).await.expect("write");
    let started = Instant::now();
    let answer = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("the idle connection was left open");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "closed too early: {:?}",
        started.elapsed()
    );
    assert_eq!(frames(&answer).first().map(|f| f.0), Some(SETTINGS));
}
