//! `cargo run -p migration -- up|down|status|fresh|refresh|reset` (and what `sea-orm-cli migrate`
//! runs). `DATABASE_URL` comes from the environment, a `.env` file, or `--database-url`.

use sea_orm_migration::prelude::*;

#[tokio::main]
async fn main() {
    cli::run_cli(migration::Migrator).await;
}
