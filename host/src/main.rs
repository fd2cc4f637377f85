//! The `portcullis` command.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use portcullis_host::admin;
use portcullis_host::apikeys::KeyStore;
use portcullis_host::audit;
use portcullis_host::config;
use portcullis_host::gateway::Gateway;
use portcullis_host::live::{self, Live};
use portcullis_host::logging::{self, LogFormat};
use portcullis_host::server;
use portcullis_host::state::{ProcessState, SharedState};

/// mimalloc: the proxy allocates and frees small buffers on every request,
/// and glibc's allocator showed up at over 10% of CPU under load. Built
/// without transparent huge pages (`no_thp`): with them its arena held
/// 2 MiB pages for a few KiB used, 10 MiB of an idle gateway's 28, for no
/// measurable throughput.
#[global_allocator]
static ALLOCATOR: portcullis_host::allocator::Allocator = portcullis_host::allocator::Allocator;

/// An API gateway whose security policies are sandboxed WebAssembly plugins.
#[derive(Parser)]
#[command(name = "portcullis", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Run {
        /// The configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Log line format.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// Worker threads serving requests (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Check a configuration file, including each plugin's `configure`;
    /// exit 0 if it is valid, 1 with the file, key and reason if not.
    Validate {
        /// The configuration file.
        config: PathBuf,
    },
    /// Issue, list and revoke API keys through a running gateway's admin
    /// API. The admin token is read from PORTCULLIS_ADMIN_TOKEN.
    Keys {
        /// The admin API's base URL.
        #[arg(long, default_value = "http://127.0.0.1:9901")]
        admin: String,
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Make a new admin token; print it and the `token_sha256` for [admin].
    AdminToken,
    /// Report the security posture of a configuration: findings with an
    /// id, a severity, a location and a fix.
    Audit {
        /// The configuration file.
        config: PathBuf,
        /// Report format.
        #[arg(long, value_enum, default_value_t = audit::report::Format::Human)]
        format: audit::report::Format,
        /// Exit 1 when a finding is at least this severe (for CI).
        #[arg(long, value_enum)]
        fail_on: Option<audit::Severity>,
    },
    /// Sign and verify plugin components (ed25519).
    Plugin {
        #[command(subcommand)]
        action: PluginAction,
    },
}

#[derive(Subcommand)]
enum PluginAction {
    /// Make a signing key: write the private key (PKCS#8 PEM) to `out`,
    /// print the public key for [signing] trusted_keys.
    Keygen {
        /// Where to write the private key; refused if it exists.
        out: PathBuf,
    },
    /// Sign a component: write `COMPONENT.sig`, print its sha256.
    Sign {
        /// The private key (PKCS#8 PEM, ed25519).
        #[arg(long)]
        key: PathBuf,
        /// The component.
        component: PathBuf,
    },
    /// Check a component's signature against trusted public keys.
    Verify {
        /// A trusted public key (hex); repeat for several.
        #[arg(long = "trusted-key", required = true)]
        trusted_keys: Vec<String>,
        /// The signature file (default: `COMPONENT.sig`).
        #[arg(long)]
        signature: Option<PathBuf>,
        /// The component.
        component: PathBuf,
    },
    /// Start a plugin: a directory NAME with a working plugin in the
    /// language, the WIT package, a build script and a case file it passes.
    New {
        /// The language.
        #[arg(long, value_enum)]
        lang: portcullis_host::scaffold::Language,
        /// The plugin's name (lower-case letters, digits, -).
        name: String,
        /// Where to make it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Measure what a component costs: size, compile time cold and
    /// cached, instantiation, one call from a ready instance, memory.
    Bench {
        /// The component.
        component: PathBuf,
        /// A case file: its settings, and its first case's request.
        #[arg(long)]
        cases: PathBuf,
    },
    /// Run a component against recorded requests and the decisions
    /// expected of them, without a gateway; exit 1 when a case fails.
    Test {
        /// The component.
        component: PathBuf,
        /// The case file (JSON; format in the README).
        #[arg(long)]
        cases: PathBuf,
        /// Print each case's decision as JSON instead of a report.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Issue a key; it is printed once and stored only as a hash.
    Create {
        /// Who the key belongs to.
        #[arg(long)]
        consumer: String,
        /// The consumer's usage plan (a key of [usage_plans]).
        #[arg(long)]
        plan: Option<String>,
    },
    /// List keys: ids, consumers, plans, creation and revocation times.
    List,
    /// Revoke a key by id; refused from the next request on.
    Revoke {
        /// The key id (the `<id>` of `pk_<id>_<secret>`).
        id: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let workers = match &cli.command {
        Command::Run { workers, .. } => *workers,
        Command::Validate { .. }
        | Command::Keys { .. }
        | Command::AdminToken
        | Command::Audit { .. }
        | Command::Plugin { .. } => None,
    };
    // One worker is served by the single-threaded scheduler: it skips the
    // work-stealing machinery a lone worker never uses.
    let mut builder = match workers {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(n.max(1));
            builder
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("portcullis: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Run {
            config, log_format, ..
        } => {
            logging::init(log_format);
            match runtime.block_on(run(&config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("portcullis: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Validate { config } => match runtime.block_on(validate(&config)) {
            Ok(()) => {
                println!("{}: ok", config.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::Keys { admin, action } => match runtime.block_on(keys(&admin, action)) {
            Ok(answer) => {
                println!("{answer:#}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("portcullis: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Audit {
            config,
            format,
            fail_on,
        } => match audit::audit_file(&config) {
            Ok(findings) => {
                print!(
                    "{}",
                    audit::report::write(format, &config.display().to_string(), &findings)
                );
                let failing = fail_on.is_some_and(|min| findings.iter().any(|f| f.severity >= min));
                if failing {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Command::Plugin { action } => match plugin_command(action, &runtime) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("portcullis: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::AdminToken => match admin::new_token() {
            Ok((token, digest)) => {
                println!(
                    "token (give it to callers as {}): {token}",
                    admin::client::TOKEN_VARIABLE
                );
                println!("[admin] token_sha256 = \"{digest}\"");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("portcullis: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn run(path: &Path) -> anyhow::Result<()> {
    // Absolute, so reloads find the file and its relative paths whatever
    // the working directory becomes.
    let path =
        &std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))?;
    let written = config::read_file(path)?;
    let mut config = written.clone();
    config::check_config(path, &mut config)?;
    portcullis_host::telemetry::init(&config.logging, config.traces.as_ref())
        .with_context(|| format!("{}: logging: cannot open a log", path.display()))?;
    let shared =
        SharedState::open(&config.state).with_context(|| format!("{}: state", path.display()))?;
    let key_store = match (&config.api_keys, &shared) {
        (None, _) => None,
        (Some(_), Some(shared)) => Some(KeyStore::open_shared(shared.clone())?),
        (Some(api_keys), None) => {
            let file = api_keys
                .store
                .as_deref()
                .context("api_keys.store: checked with the config")?;
            Some(Arc::new(KeyStore::open(file)?))
        }
    };
    if let (Some(shared), Some(threats)) = (&shared, &config.threats) {
        portcullis_host::threats::state(threats.max_tracked)
            .share(portcullis_host::state::blocks::SharedBlocks::new(
                shared.clone(),
            ))
            .context("cannot follow shared blocks")?;
    }
    let process = ProcessState {
        key_store: key_store.clone(),
        shared,
    };
    let gateway = Gateway::build_with(&config, path, &process).await?;
    let certificates = gateway.certificates.clone();
    let live = Arc::new(Live::new(gateway, written, path, process));
    tokio::spawn(live::reload_on_hangup(live.clone()).context("cannot handle SIGHUP")?);
    if config.server.reload_check_ms > 0 {
        let every = std::time::Duration::from_millis(config.server.reload_check_ms);
        tokio::spawn(live::watch_files(live.clone(), every));
    }
    if let Some(settings) = &config.admin {
        // Validated with the config; an error here is a bug, not bad input.
        // Validated with the config; an error here is a bug, not bad input.
        let token_sha256 = settings
            .token_sha256
            .as_deref()
            .map(admin::parse_token_sha256)
            .transpose()
            .map_err(|reason| {
                anyhow::anyhow!("{}: admin.token_sha256: {reason}", path.display())
            })?;
        let admin_tls = match &settings.tls {
            Some(tls) => Some(admin::server::tls_acceptor(tls, path)?),
            None => None,
        };
        let admin_api = admin::server::Admin::new(
            token_sha256,
            settings.client_subjects.clone(),
            key_store,
            live.clone(),
        );
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {} (admin)", settings.listen))?;
        let admin_addr = listener.local_addr().context("admin listener address")?;
        tracing::info!(addr = %admin_addr, "admin API listening");
        tokio::spawn(admin::server::serve(
            listener,
            Arc::new(admin_api),
            admin_tls,
        ));
    }
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let addr = listener.local_addr().context("listener address")?;
    if let Some(certificates) = certificates {
        tokio::spawn(portcullis_host::tls::watch_certificates(certificates));
    }
    let scheme = if config.server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    if let Some(redirect) = config.server.http_redirect_listen {
        let plain = tokio::net::TcpListener::bind(redirect)
            .await
            .with_context(|| format!("cannot listen on {redirect}"))?;
        let plain_addr = plain.local_addr().context("listener address")?;
        tracing::info!(addr = %plain_addr, "redirecting plain HTTP to HTTPS");
        tokio::spawn(server::serve_redirect(plain, addr.port(), live.clone()));
    }
    tracing::info!(addr = %addr, scheme, routes = config.routes.len(), "listening");
    server::serve(live, listener, &config.server, server::shutdown_signal()).await;
    // The access lines of the drained requests, and the audit lines of the
    // shutdown, are written before the process ends.
    portcullis_host::telemetry::get().close();
    Ok(())
}

async fn validate(path: &Path) -> Result<(), String> {
    let config = config::load_file(path).map_err(|e| e.to_string())?;
    Gateway::build(&config, path)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Run one `portcullis plugin` action.
fn plugin_command(
    action: PluginAction,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<ExitCode> {
    use portcullis_host::plugin::supply_chain;
    match action {
        PluginAction::Keygen { out } => {
            let (pem, public) = supply_chain::generate_key()?;
            write_private(&out, pem.as_bytes())?;
            println!("private key written to {}", out.display());
            println!("[signing] trusted_keys = [\"{public}\"]");
        }
        PluginAction::Sign { key, component } => {
            let bytes = std::fs::read(&component)
                .with_context(|| format!("cannot read {}", component.display()))?;
            let (signature, public) = supply_chain::sign(&bytes, &key)?;
            let out = supply_chain::default_signature_path(&component);
            std::fs::write(&out, format!("{signature}\n"))
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("signature written to {}", out.display());
            println!("sha256 = \"{}\"", supply_chain::digest(&bytes));
            println!("signed by {public}");
        }
        PluginAction::Verify {
            trusted_keys,
            signature,
            component,
        } => {
            let bytes = std::fs::read(&component)
                .with_context(|| format!("cannot read {}", component.display()))?;
            let signature =
                signature.unwrap_or_else(|| supply_chain::default_signature_path(&component));
            supply_chain::verify(&bytes, &signature, &trusted_keys)?;
            println!("{}: signature ok", component.display());
        }
        PluginAction::New { lang, name, dir } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let files = portcullis_host::scaffold::create(&dir, &name, lang)?;
            for file in files {
                println!("created {}", file.display());
            }
            println!(
                "next: cd {} && ./build.sh && portcullis plugin test {name}.wasm --cases cases.json",
                dir.display()
            );
        }
        PluginAction::Bench { component, cases } => {
            let costs = runtime.block_on(portcullis_host::conformance::bench::measure(
                &component, &cases,
            ))?;
            println!(
                "size {:.1} KB, compile {:.0} ms cold / {:.1} ms cached, instantiate {:.0} us, \
                 call {:.1} us, memory {:.1} MiB",
                costs.size_bytes as f64 / 1024.0,
                costs.compile_cold.as_secs_f64() * 1e3,
                costs.compile_cached.as_secs_f64() * 1e3,
                costs.instantiate.as_secs_f64() * 1e6,
                costs.call.as_secs_f64() * 1e6,
                costs.memory_bytes as f64 / f64::from(1u32 << 20)
            );
        }
        PluginAction::Test {
            component,
            cases,
            json,
        } => return plugin_test(runtime, &component, &cases, json),
    }
    Ok(ExitCode::SUCCESS)
}

/// `portcullis plugin test`: the report, and whether every case passed.
fn plugin_test(
    runtime: &tokio::runtime::Runtime,
    component: &Path,
    cases: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let report = runtime.block_on(portcullis_host::conformance::run_file(component, cases))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for case in &report.cases {
            if case.mismatches.is_empty() {
                println!("ok    {}", case.name);
            } else {
                println!("FAIL  {}", case.name);
                for mismatch in &case.mismatches {
                    println!("        {mismatch}");
                }
            }
        }
        let failed = report
            .cases
            .iter()
            .filter(|c| !c.mismatches.is_empty())
            .count();
        println!(
            "{} cases: {} passed, {failed} failed",
            report.cases.len(),
            report.cases.len() - failed
        );
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Create `path` readable by its owner only; never overwrite.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Run one `portcullis keys` action against the admin API at `base`.
async fn keys(base: &str, action: KeysAction) -> anyhow::Result<serde_json::Value> {
    use http::Method;
    match action {
        KeysAction::Create { consumer, plan } => {
            let body = serde_json::json!({ "consumer": consumer, "plan": plan });
            admin::client::call(base, Method::POST, "/keys", Some(body)).await
        }
        KeysAction::List => admin::client::call(base, Method::GET, "/keys", None).await,
        KeysAction::Revoke { id } => {
            if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                anyhow::bail!("{id:?} is not a key id");
            }
            admin::client::call(base, Method::DELETE, &format!("/keys/{id}"), None).await
        }
    }
}
