//! The upstream the CRS regression suite expects (go-ftw's albedo): `/reflect`
//! answers with the status, headers and body a JSON request body asks for;
//! anything else gets `200 ok`.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

#[path = "../../../plugins/waf/engine/tests/crs/ftw.rs"]
pub mod ftw;

/// Start a reflecting upstream; returns its address.
pub async fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind reflector");
    let addr = listener.local_addr().expect("reflector addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service_fn(answer))
                    .await;
            });
        }
    });
    addr
}

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let reflecting = request.uri().path() == "/reflect";
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if !reflecting {
        return Ok(Response::new(Full::new(Bytes::from_static(b"ok"))));
    }
    let reflection = ftw::reflect(&body);
    let mut response = Response::builder().status(reflection.status);
    for (name, value) in &reflection.headers {
        response = response.header(name, value);
    }
    Ok(response
        .body(Full::new(Bytes::from(reflection.body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}
