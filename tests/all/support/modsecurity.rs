//! A real nginx with ModSecurity v3 (Debian's `nginx` and
//! `libnginx-mod-http-modsecurity`) loaded with the same Core Rule Set the
//! `waf` tests use, at paranoia level 1 in blocking mode, set up as the
//! CRS's documentation does, proxying to one upstream. The reference the
//! `waf` plugin's verdicts are compared with; stopped on drop.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::waf::crs;

const MODULE: &str = "/usr/lib/nginx/modules/ngx_http_modsecurity_module.so";

/// A running nginx + ModSecurity.
pub struct ModSecurity {
    pub addr: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
}

impl ModSecurity {
    /// Start one in front of `upstream` (host:port).
    pub fn start(upstream: &str) -> ModSecurity {
        assert!(
            Path::new(MODULE).exists(),
            "{MODULE} is missing: install Debian's libnginx-mod-http-modsecurity"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let rules = dir.path().join("modsecurity.conf");
        std::fs::write(&rules, rules_conf()).expect("write modsecurity.conf");
        let nginx_conf = dir.path().join("nginx.conf");
        std::fs::write(
            &nginx_conf,
            nginx_conf_text(port, upstream, &rules, dir.path()),
        )
        .expect("write nginx.conf");
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&nginx_conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx (Debian's nginx package)");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        // Loading the CRS takes a second or two.
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx + ModSecurity did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        ModSecurity {
            addr,
            child,
            _dir: dir,
        }
    }
}

impl Drop for ModSecurity {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ModSecurity's engine settings, the CRS's setup file at paranoia level 1,
/// and the rules; JSON bodies parsed as the CRS's setup advises.
fn rules_conf() -> String {
    let crs = crs();
    let crs = crs.display();
    format!(
        r#"SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 1048576
SecRequestBodyNoFilesLimit 1048576
SecRequestBodyLimitAction Reject
SecResponseBodyAccess Off
SecAuditEngine Off
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
Include {crs}/crs-setup.conf.example
SecAction "id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level=1"
Include {crs}/rules/*.conf
"#
    )
}

/// One worker in the foreground, a keep-alive upstream.
fn nginx_conf_text(port: u16, upstream: &str, rules: &Path, dir: &Path) -> String {
    let dir = dir.display();
    let rules = rules.display();
    format!(
        r#"load_module {MODULE};
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  upstream origin {{ server {upstream}; keepalive 16; }}
  server {{
    listen 127.0.0.1:{port};
    modsecurity on;
    modsecurity_rules_file {rules};
    location / {{
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"#
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
