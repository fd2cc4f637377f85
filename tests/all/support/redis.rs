//! A real `redis-server` (Debian's package) on a free loopback port, with
//! no persistence; stopped on drop. It can be killed and started again on
//! the same port, as an outage would.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running (or stopped) Redis server.
pub struct Redis {
    port: u16,
    child: Option<Child>,
    /// Certificate and key to serve TLS only, with the CA that signed them.
    tls: Option<(PathBuf, PathBuf, PathBuf)>,
}

impl Redis {
    /// Start one on a port nothing else uses.
    pub fn start() -> Redis {
        Self::start_with(None)
    }

    /// Start one that speaks only TLS, with this certificate, key and CA.
    pub fn start_tls(cert: PathBuf, key: PathBuf, ca: PathBuf) -> Redis {
        Self::start_with(Some((cert, key, ca)))
    }

    fn start_with(tls: Option<(PathBuf, PathBuf, PathBuf)>) -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = Redis {
            port,
            child: None,
            tls,
        };
        redis.restart();
        redis
    }

    /// `redis://127.0.0.1:PORT` (`rediss://` over TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The `[state]` table of a gateway sharing state in this server
    /// (more `[state]` keys may follow it).
    pub fn state_table(&self) -> String {
        format!("[state]\nbackend = \"redis\"\nurl = \"{}\"", self.url())
    }

    /// Kill it, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again on the same port (empty), and wait until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let mut command = Command::new("redis-server");
        command.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        match &self.tls {
            None => command.args(["--port", &self.port.to_string()]),
            Some((cert, key, ca)) => command
                .args(["--port", "0", "--tls-port", &self.port.to_string()])
                .arg("--tls-cert-file")
                .arg(cert)
                .arg("--tls-key-file")
                .arg(key)
                .arg("--tls-ca-cert-file")
                .arg(ca)
                .args(["--tls-auth-clients", "no"]),
        };
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server; .ci/run installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.ping().is_err() {
            assert!(Instant::now() < deadline, "redis-server did not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A command on a fresh connection.
    pub fn command(&self, args: &[&str]) -> redis::RedisResult<redis::Value> {
        let client = match &self.tls {
            None => redis::Client::open(self.url())?,
            Some((_, _, ca)) => redis::Client::build_with_tls(
                self.url(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(std::fs::read(ca).expect("CA file")),
                },
            )?,
        };
        let mut connection = client.get_connection_with_timeout(Duration::from_secs(2))?;
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command.query(&mut connection)
    }

    fn ping(&self) -> redis::RedisResult<redis::Value> {
        self.command(&["PING"])
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
