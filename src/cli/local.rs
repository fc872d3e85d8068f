//! `foresto local status|stop|reset`: the managed local PostgreSQL server used when no
//! database is configured.

use clap::Subcommand;
use foresto::db::local_server::ServerStatus;
use foresto::db::managed::{ManagedServer, default_root};

use super::output::print_json;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Where the managed server lives, whether it runs, and its URL (which carries the server's
    /// password: only clients that give it get in).
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start the managed server (initialising it on first use) and print its URL.
    Start,
    /// Stop the managed server; its data stays.
    Stop,
    /// Stop the managed server and delete its directory with all data.
    Reset {
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
    },
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let server = ManagedServer::new(default_root())?;
    match args.command {
        Command::Status { json } => {
            let status = server.status()?;
            let (state, port, pid) = match status.state {
                ServerStatus::NotInitialized => ("not initialised", None, None),
                ServerStatus::Stopped => ("stopped", None, None),
                ServerStatus::Running { port, pid } => ("running", Some(port), Some(pid)),
            };
            if json {
                print_json(&serde_json::json!({
                    "directory": status.root,
                    "data_dir": status.data_dir,
                    "password_file": status.password_file,
                    "bin_dir": status.bin_dir,
                    "state": state,
                    "port": port,
                    "pid": pid,
                    "url": status.url,
                }))?;
            } else {
                println!("directory: {}", status.root.display());
                println!("binaries:  {}", status.bin_dir.display());
                println!("password:  {} (owner only)", status.password_file.display());
                println!("state:     {state}");
                if let Some(url) = status.url {
                    println!("url:       {url}");
                }
            }
        }
        Command::Start => println!("{}", server.ensure_database().await?),
        Command::Stop => {
            server.stop()?;
            println!("stopped ({})", server.root().display());
        }
        Command::Reset { yes } => {
            anyhow::ensure!(
                yes,
                "this deletes {} and every database in it; re-run with --yes",
                server.root().display()
            );
            server.reset()?;
            println!("removed {}", server.root().display());
        }
    }
    Ok(())
}
