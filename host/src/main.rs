//! The `portcullis` command.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use portcullis_host::admin;
use portcullis_host::apikeys::KeyStore;
use portcullis_host::config;
use portcullis_host::gateway::Gateway;
use portcullis_host::logging::{self, LogFormat};
use portcullis_host::server;

/// mimalloc: the proxy allocates and frees small buffers on every request,
/// and glibc's allocator showed up at over 10% of CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        Command::Validate { .. } | Command::Keys { .. } | Command::AdminToken => None,
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
    let config = config::load_file(path)?;
    let key_store = match &config.api_keys {
        Some(api_keys) => Some(Arc::new(KeyStore::open(&api_keys.store)?)),
        None => None,
    };
    let gateway = Arc::new(Gateway::build_with_keys(&config, path, key_store.clone()).await?);
    if let Some(settings) = &config.admin {
        // Validated with the config; an error here is a bug, not bad input.
        let token_sha256 = admin::parse_token_sha256(&settings.token_sha256).map_err(|reason| {
            anyhow::anyhow!("{}: admin.token_sha256: {reason}", path.display())
        })?;
        let admin_api = admin::server::Admin::new(token_sha256, key_store, gateway.plans.clone());
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {} (admin)", settings.listen))?;
        let admin_addr = listener.local_addr().context("admin listener address")?;
        tracing::info!(addr = %admin_addr, "admin API listening");
        tokio::spawn(admin::server::serve(listener, Arc::new(admin_api)));
    }
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let addr = listener.local_addr().context("listener address")?;
    if let Some(certificates) = gateway.certificates.clone() {
        tokio::spawn(portcullis_host::tls::watch_certificates(certificates));
    }
    let scheme = if gateway.tls.is_some() {
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
        tokio::spawn(server::serve_redirect(plain, addr.port(), gateway.clone()));
    }
    tracing::info!(addr = %addr, scheme, routes = gateway.router.routes().len(), "listening");
    server::serve(gateway, listener, &config.server, server::shutdown_signal()).await;
    Ok(())
}

async fn validate(path: &Path) -> Result<(), String> {
    let config = config::load_file(path).map_err(|e| e.to_string())?;
    Gateway::build(&config, path)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
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
