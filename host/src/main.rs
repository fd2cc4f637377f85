//! The `portcullis` command.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let workers = match &cli.command {
        Command::Run { workers, .. } => *workers,
        Command::Validate { .. } => None,
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
    }
}

async fn run(path: &Path) -> anyhow::Result<()> {
    let config = config::load_file(path)?;
    let gateway = Arc::new(Gateway::build(&config, path).await?);
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
