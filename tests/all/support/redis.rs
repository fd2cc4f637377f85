//! A real `redis-server` (Debian's package) on a free loopback port, with
//! no persistence; stopped on drop. It can be killed and started again on
//! the same port, as an outage would, run as a replica of another, and
//! watched by a real Sentinel (the same binary with `--sentinel`).

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
    /// The port of the primary this one replicates.
    replica_of: Option<u16>,
}

impl Redis {
    /// Start one on a port nothing else uses.
    pub fn start() -> Redis {
        Self::start_with(None, None)
    }

    /// Start one that speaks only TLS, with this certificate, key and CA.
    pub fn start_tls(cert: PathBuf, key: PathBuf, ca: PathBuf) -> Redis {
        Self::start_with(Some((cert, key, ca)), None)
    }

    /// Start a replica of `primary`.
    pub fn start_replica_of(primary: &Redis) -> Redis {
        Self::start_with(None, Some(primary.port))
    }

    fn start_with(tls: Option<(PathBuf, PathBuf, PathBuf)>, replica_of: Option<u16>) -> Redis {
        let mut redis = Redis {
            port: free_port(),
            child: None,
            tls,
            replica_of,
        };
        redis.restart();
        redis
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
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
        if let Some(primary) = self.replica_of {
            command.args(["--replicaof", "127.0.0.1", &primary.to_string()]);
        }
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

    /// Admit only `user` with `password` from now on (the default user
    /// is turned off).
    pub fn admit_only(&self, user: &str, password: &str) {
        for command in admitting_only(user, password) {
            let command: Vec<&str> = command.iter().map(String::as_str).collect();
            self.command(&command)
                .unwrap_or_else(|e| panic!("{command:?}: {e}"));
        }
    }

    /// The keys of `database`, read as `user`.
    pub fn keys_as(&self, user: &str, password: &str, database: u32) -> Vec<String> {
        let url = format!(
            "redis://{user}:{password}@127.0.0.1:{}/{database}",
            self.port
        );
        let client = redis::Client::open(url).expect("client");
        let mut connection = client
            .get_connection_with_timeout(Duration::from_secs(2))
            .expect("connect");
        redis::cmd("KEYS")
            .arg("*")
            .query(&mut connection)
            .expect("KEYS")
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

/// The ACL commands that admit only `user` with `password` (every
/// command, key and channel) and turn the default user off.
fn admitting_only(user: &str, password: &str) -> [Vec<String>; 2] {
    let words = |words: &[&str]| words.iter().map(|w| w.to_string()).collect();
    let password = format!(">{password}");
    [
        words(&["ACL", "SETUSER", user, "on", &password, "~*", "&*", "+@all"]),
        words(&["ACL", "SETUSER", "default", "off"]),
    ]
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A real Sentinel watching one primary under a name, with a quorum of
/// one and a short down-after time, so a killed primary is failed over
/// in seconds.
pub struct Sentinel {
    port: u16,
    name: String,
    child: Child,
    /// Sentinel rewrites its config file, so it gets a directory.
    _dir: tempfile::TempDir,
}

impl Sentinel {
    /// Watch `primary` as `name`; returns once the sentinel answers and
    /// knows `replicas` replicas of it (a failover needs one).
    pub fn start(primary: &Redis, name: &str, replicas: usize) -> Sentinel {
        let dir = tempfile::tempdir().expect("a temp dir");
        let port = free_port();
        let file = dir.path().join("sentinel.conf");
        std::fs::write(
            &file,
            format!(
                "port {port}\nbind 127.0.0.1\n\
                 sentinel monitor {name} 127.0.0.1 {primary} 1\n\
                 sentinel down-after-milliseconds {name} 400\n\
                 sentinel failover-timeout {name} 4000\n",
                primary = primary.port
            ),
        )
        .expect("sentinel.conf");
        let child = Command::new("redis-server")
            .arg(&file)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server --sentinel");
        let sentinel = Sentinel {
            port,
            name: name.into(),
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while sentinel.primary_port().is_none() || sentinel.known_replicas() < replicas {
            assert!(
                Instant::now() < deadline,
                "the sentinel did not find {replicas} replicas"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sentinel
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port of the server the sentinel calls the primary now.
    pub fn primary_port(&self) -> Option<u16> {
        let (_host, port): (String, String) = self
            .query(&["SENTINEL", "get-master-addr-by-name", &self.name])
            .ok()?;
        port.parse().ok()
    }

    fn known_replicas(&self) -> usize {
        self.query::<Vec<redis::Value>>(&["SENTINEL", "replicas", &self.name])
            .map_or(0, |replicas| replicas.len())
    }

    /// Watch the primary as `user` with `password`, as it admits only them.
    pub fn watch_as(&self, user: &str, password: &str) {
        for (setting, value) in [("auth-user", user), ("auth-pass", password)] {
            self.query::<redis::Value>(&["SENTINEL", "SET", &self.name, setting, value])
                .unwrap_or_else(|e| panic!("SENTINEL SET {setting}: {e}"));
        }
    }

    /// Admit only `user` with `password` from now on (the default user is
    /// turned off, so this handle's own queries stop working).
    pub fn admit_only(&self, user: &str, password: &str) {
        for command in admitting_only(user, password) {
            let command: Vec<&str> = command.iter().map(String::as_str).collect();
            self.query::<redis::Value>(&command)
                .unwrap_or_else(|e| panic!("{command:?}: {e}"));
        }
    }

    /// A command to the sentinel on a fresh connection.
    fn query<T: redis::FromRedisValue>(&self, args: &[&str]) -> redis::RedisResult<T> {
        let client = redis::Client::open(self.url())?;
        let mut connection = client.get_connection_with_timeout(Duration::from_secs(2))?;
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command.query(&mut connection)
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
