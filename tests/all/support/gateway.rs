//! A real `portcullis run` process on 127.0.0.1:0.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::fixtures::target_dir;

/// How long a gateway may take to start: plugins may need compiling.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running gateway.
pub struct Gateway {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
    dir: tempfile::TempDir,
}

/// Path of the portcullis binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_portcullis"))
}

/// The cache of compiled plugins shared by all test gateways.
pub fn plugin_cache() -> PathBuf {
    target_dir().join("plugin-cache")
}

/// Write `toml` to a fresh directory as `portcullis.toml`.
pub fn write_config(toml: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("portcullis.toml");
    std::fs::write(&path, toml).expect("write config");
    (dir, path)
}

impl Gateway {
    /// Start a gateway on `toml` (its `[server]` table is added: listen on
    /// port 0, a short grace period) and wait until it listens.
    pub fn start(toml: &str) -> Gateway {
        Self::start_with_server_keys("", toml)
    }

    /// Like [`Gateway::start`], with extra `[server]` keys.
    pub fn start_with_server_keys(server_keys: &str, toml: &str) -> Gateway {
        Self::try_start(server_keys, toml)
            .unwrap_or_else(|logs| panic!("gateway did not start:\n{logs}"))
    }

    /// Like [`Gateway::start`], with extra `[runtime]` keys.
    pub fn start_with_runtime_keys(runtime_keys: &str, toml: &str) -> Gateway {
        Self::try_start_with("", runtime_keys, toml)
            .unwrap_or_else(|logs| panic!("gateway did not start:\n{logs}"))
    }

    /// Like [`Gateway::start`], but returns the output if it never listens.
    pub fn try_start(server_keys: &str, toml: &str) -> Result<Gateway, String> {
        Self::try_start_with(server_keys, "", toml)
    }

    /// Like [`Gateway::start`], run from the config directory's parent
    /// and named by a relative path (`DIR/portcullis.toml`), as an
    /// operator typing `--config deploy/portcullis.toml` would.
    pub fn start_with_relative_config(toml: &str) -> Gateway {
        Self::try_start_with_path("", "", toml, true, &plugin_cache())
            .unwrap_or_else(|logs| panic!("gateway did not start:\n{logs}"))
    }

    /// Like [`Gateway::start`], with compiled plugins cached in `cache_dir`
    /// (an empty one makes the gateway compile them).
    pub fn start_with_cache_dir(cache_dir: &Path, toml: &str) -> Gateway {
        Self::try_start_with_path("", "", toml, false, cache_dir)
            .unwrap_or_else(|logs| panic!("gateway did not start:\n{logs}"))
    }

    fn try_start_with(
        server_keys: &str,
        runtime_keys: &str,
        toml: &str,
    ) -> Result<Gateway, String> {
        Self::try_start_with_path(server_keys, runtime_keys, toml, false, &plugin_cache())
    }

    fn try_start_with_path(
        server_keys: &str,
        runtime_keys: &str,
        toml: &str,
        relative: bool,
        cache_dir: &Path,
    ) -> Result<Gateway, String> {
        let full = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ngrace_period_ms = 5000\n{server_keys}\n\n[runtime]\ncache_dir = {:?}\n{runtime_keys}\n\n{toml}",
            cache_dir.display().to_string()
        );
        let (dir, path) = write_config(&full);
        let mut command = Command::new(binary());
        command.args(["run", "--log-format", "json", "--config"]);
        match (relative, dir.path().parent(), dir.path().file_name()) {
            (true, Some(parent), Some(name)) => {
                command
                    .current_dir(parent)
                    .arg(Path::new(name).join("portcullis.toml"));
            }
            _ => {
                command.arg(&path);
            }
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn portcullis");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        collect_lines(
            child.stdout.take().expect("stdout"),
            logs.clone(),
            Some(addr_tx),
        );
        collect_lines(child.stderr.take().expect("stderr"), logs.clone(), None);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(addr) = addr_rx.recv_timeout(Duration::from_millis(50)) {
                return Ok(Gateway {
                    child,
                    addr,
                    logs,
                    dir,
                });
            }
            if let Ok(Some(_)) = child.try_wait() {
                // Let the reader threads drain what it printed.
                std::thread::sleep(Duration::from_millis(200));
                return Err(logs.lock().expect("logs").join("\n"));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(logs.lock().expect("logs").join("\n"));
            }
        }
    }

    /// Start a gateway on a config given as JSON (see [`one_route`]).
    pub fn start_json(config: &serde_json::Value) -> Gateway {
        Self::start(&toml::to_string(config).expect("config as TOML"))
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://ADDR` of the admin API, from its start-up log line.
    pub fn admin_url(&self) -> String {
        let addr = self
            .logs()
            .iter()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find(|line| line["message"] == "admin API listening")
            .and_then(|line| line["addr"].as_str().map(str::to_string))
            .expect("the admin API logged its address");
        format!("http://{addr}")
    }

    /// Wait (up to 10 s) until a printed line satisfies `matches`: lines
    /// arrive through a pipe, a moment after the response that caused them.
    pub fn wait_for_log(&self, mut matches: impl FnMut(&str) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.logs().iter().any(|line| matches(line)) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The config file the gateway runs on.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("portcullis.toml")
    }

    /// Rewrite the config file with `edit`, by rename, as deployments do:
    /// the gateway never reads half a file.
    pub fn rewrite_config(&self, edit: impl FnOnce(String) -> String) {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).expect("read config");
        let staged = path.with_extension("staged");
        std::fs::write(&staged, edit(text)).expect("write config");
        std::fs::rename(&staged, &path).expect("replace config");
    }

    /// Send `signal` (e.g. `HUP`) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Kibibytes of `field` (`VmRSS`, `RssAnon` ...) in its `/proc` status.
    pub fn resident_kib(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.trim().trim_end_matches(" kB").parse().ok())
            .unwrap_or_else(|| panic!("no {field} in the gateway's status"))
    }

    /// The gateway's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every line the gateway printed so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("logs").clone()
    }

    /// Send SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Wait for the process to exit, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect_lines(
    stream: impl std::io::Read + Send + 'static,
    logs: Arc<Mutex<Vec<String>>>,
    addr_tx: Option<std::sync::mpsc::Sender<SocketAddr>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(tx) = &addr_tx
                && let Some(addr) = listening_addr(&line)
            {
                let _ = tx.send(addr);
            }
            logs.lock().expect("logs").push(line);
        }
    });
}

fn listening_addr(line: &str) -> Option<SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    if value.get("message")?.as_str()? != "listening" {
        return None;
    }
    value.get("addr")?.as_str()?.parse().ok()
}

/// Run `portcullis validate FILE` from `cwd`; (exit code, stdout, stderr).
pub fn validate(cwd: &Path, file: &str) -> (i32, String, String) {
    let output = Command::new(binary())
        .current_dir(cwd)
        .env("PORTCULLIS_CACHE_DIR", plugin_cache())
        .args(["validate", file])
        .output()
        .expect("run portcullis validate");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A config with these `[plugins]` and one route, `api`, sending every
/// path to `target` through the plugins named in `chain`.
pub fn one_route(plugins: serde_json::Value, target: &str, chain: &[&str]) -> serde_json::Value {
    let chain: Vec<serde_json::Value> = chain
        .iter()
        .map(|name| serde_json::json!({ "name": name }))
        .collect();
    serde_json::json!({
        "plugins": plugins,
        "routes": [{
            "id": "api",
            "path": { "prefix": "/" },
            "upstream": { "targets": [target] },
            "plugins": chain,
        }],
    })
}
