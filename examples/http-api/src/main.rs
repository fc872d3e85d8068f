//! `http-api`: serves the product's HTTP API on the Foresto library.
//!
//! ```sh
//! DATABASE_URL=postgres://foresto@localhost/foresto cargo run --release -p http-api -- --listen 127.0.0.1:8080
//! ```
//!
//! Settings come from the environment (`foresto::Settings::from_env`: engine version, result
//! TTL, pool size and timeouts); the schema is migrated before the first request is taken. The
//! API has no authentication: keep it on loopback, behind the product's gateway.

use std::io::IsTerminal as _;
use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// The log filter when `RUST_LOG` is unset: our own events, the migrations', and no per-statement
/// notices from the driver.
const DEFAULT_LOG: &str = "info,sqlx=warn";

#[derive(Debug, Parser)]
#[command(
    version,
    about = "The product's HTTP API on the Foresto library (no authentication: put it behind the gateway)"
)]
struct Args {
    /// Address to listen on; port 0 takes a free one (the log says which).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// PostgreSQL to serve, e.g. postgres://foresto:secret@localhost:5432/foresto.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let args = Args::parse();
    if let Err(err) = serve(args).await {
        // One line, causes included: what an operator reads in a service log.
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let settings = foresto::Settings::from_env()?;
    let db = foresto::db::connect_and_migrate(&args.database_url, &settings.pool)
        .await
        .context("opening the database")?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(
        "listening on http://{} (pool of {} connections)",
        listener.local_addr()?,
        settings.pool.max_connections
    );
    let app = http_api::router(http_api::AppState::new(db.clone(), settings));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
        .context("serving")?;
    db.close().await.context("closing the pool")?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM (how a service manager stops us): requests in flight finish.
async fn shutdown() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
