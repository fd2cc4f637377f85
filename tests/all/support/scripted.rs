//! An upstream that answers with fixed bytes, for responses a
//! well-behaved server library would not send: odd framing, early closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What to send for a request head, and whether to close afterwards.
pub type Script = fn(&str) -> (Vec<u8>, bool);

/// A running scripted upstream.
pub struct Scripted {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Scripted {
    /// Answer every bodiless request with what `script` says.
    pub async fn start(script: Script) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, script));
            }
        });
        Scripted {
            addr,
            accepted,
            task,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// A config fragment: one route sending everything here.
    pub fn route_all(&self) -> String {
        format!(
            "\n[[routes]]\nid = \"scripted\"\npath = {{ prefix = \"/\" }}\nupstream = {{ targets = [\"{}\"] }}\n",
            self.addr
        )
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, script: Script) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        while let Some(end) = find(&seen, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).into_owned();
            seen.drain(..end + 4);
            let (answer, close) = script(&head);
            if stream.write_all(&answer).await.is_err() || close {
                return;
            }
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
