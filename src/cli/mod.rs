//! Command-line front end: argument parsing and dispatch. Each subcommand module is a thin layer
//! over the service functions: it parses, calls, and prints (a table, or JSON with `--json`).

mod codes;
mod demo;
mod instruments;
mod limits;
mod loads;
mod local;
mod output;
mod pairs;
mod partitions;
mod portfolios;
mod prices;
mod quality;
mod returns;
mod runs;
mod scenarios;
mod simulate;
mod stats;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use sea_orm::DatabaseConnection;

/// Foresto: portfolio-simulation data layer (PostgreSQL) — operator commands.
#[derive(Debug, Parser)]
#[command(name = "foresto", version, about, propagate_version = true)]
pub struct Cli {
    /// PostgreSQL URL (default: $DATABASE_URL, then .env).
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole flow on the bundled real ETF prices: load, returns, scenarios,
    /// simulations, comparison table and charts (idempotent; cached on re-runs).
    Demo(demo::Args),
    /// Apply pending schema migrations.
    Migrate,
    /// Instrument master: import and seed.
    Instruments(instruments::Args),
    /// Bulk price loads.
    Prices(prices::Args),
    /// Daily returns from prices.
    Returns(returns::Args),
    /// Load history.
    Loads(loads::Args),
    /// Monthly partition upkeep.
    Partitions(partitions::Args),
    /// Managed scenarios.
    Scenarios(scenarios::Args),
    /// Portfolio versions of a scenario.
    Portfolios(portfolios::Args),
    /// Simulate a scenario (served from the result cache when possible).
    Simulate(simulate::Args),
    /// Stored simulation runs.
    Runs(runs::Args),
    /// The managed local PostgreSQL server (used when no database is configured).
    Local(local::Args),
    /// Operations view: sizes, index use, cache hits, partition coverage, house-keeping.
    Stats(stats::Args),
    /// Data-quality report: gaps, stale instruments, forward fills, flagged returns, bad rows.
    Quality(quality::Args),
}

/// What every subcommand gets: where the database is, and the settings from the environment.
pub struct Context {
    database_url: Option<String>,
    pub settings: foresto::Settings,
}

impl Context {
    /// Connects to the configured database and checks its schema is current. With no database
    /// configured, starts (or reuses) the managed local server and migrates it.
    ///
    /// # Errors
    /// When the database cannot be reached, or migrations are pending on a configured one.
    pub async fn db(&self) -> anyhow::Result<DatabaseConnection> {
        use migration::MigratorTrait;
        let Some(url) = self.configured_url() else {
            return self.managed_db().await;
        };
        let db = foresto::db::connect(&url, &self.settings.pool).await?;
        let pending = migration::Migrator::get_pending_migrations(&db)
            .await
            .context("reading the migration state")?;
        anyhow::ensure!(
            pending.is_empty(),
            "the database schema is not up to date ({} migrations pending): run `foresto migrate`",
            pending.len()
        );
        Ok(db)
    }

    /// Connects to the configured database, or the managed one, without checking migrations.
    ///
    /// # Errors
    /// When the database cannot be reached or the managed server cannot start.
    pub async fn db_unchecked(&self) -> anyhow::Result<DatabaseConnection> {
        match self.configured_url() {
            Some(url) => Ok(foresto::db::connect(&url, &self.settings.pool).await?),
            None => self.managed_db().await,
        }
    }

    fn configured_url(&self) -> Option<String> {
        self.database_url.clone().or_else(|| {
            std::env::var("DATABASE_URL")
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
    }

    async fn managed_db(&self) -> anyhow::Result<DatabaseConnection> {
        let server = foresto::db::managed::ManagedServer::new(foresto::db::managed::default_root())
            .context("no DATABASE_URL is set, so Foresto runs its own local PostgreSQL")?;
        let url = server.ensure_database().await?;
        // The URL carries the server's password: name the server, not the secret (logs of a
        // CI job or a shared terminal would keep it).
        eprintln!(
            "using the managed local PostgreSQL in {} (see `foresto local status`)",
            server.root().display()
        );
        Ok(foresto::db::connect_and_migrate(&url, &self.settings.pool).await?)
    }
}

/// Sets up logging to stderr, filtered by `RUST_LOG` (default: warnings).
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Runs the parsed command.
///
/// # Errors
/// Whatever the command fails with; `main` prints it as one line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // `.env` fills in what the environment lacks; variables already set win.
    let _ = dotenvy::dotenv();
    let ctx = Context {
        database_url: cli.database_url,
        settings: foresto::Settings::from_env()?,
    };
    match cli.command {
        Command::Migrate => {
            let db = ctx.db_unchecked().await?;
            foresto::db::migrate(&db).await?;
            println!("schema up to date");
            Ok(())
        }
        Command::Demo(args) => demo::run(args, &ctx).await,
        Command::Instruments(args) => instruments::run(args, &ctx).await,
        Command::Prices(args) => prices::run(args, &ctx).await,
        Command::Returns(args) => returns::run(args, &ctx).await,
        Command::Loads(args) => loads::run(args, &ctx).await,
        Command::Partitions(args) => partitions::run(args, &ctx).await,
        Command::Scenarios(args) => scenarios::run(args, &ctx).await,
        Command::Portfolios(args) => portfolios::run(args, &ctx).await,
        Command::Simulate(args) => simulate::run(args, &ctx).await,
        Command::Runs(args) => runs::run(args, &ctx).await,
        Command::Local(args) => local::run(args).await,
        Command::Stats(args) => stats::run(args, &ctx).await,
        Command::Quality(args) => quality::run(args, &ctx).await,
    }
}
