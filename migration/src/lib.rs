//! Migrations that create and evolve the Foresto Phase 1 schema.
//!
//! Each step is a pair of SQL files in `src/migrations/` (`<name>.up.sql`, `<name>.down.sql`),
//! grouped by concern and run in order inside one transaction per step. Every statement is
//! idempotent, so the migrations also adopt a database on which the reference DDL was applied by
//! hand. Run them with `sea-orm-cli migrate up`, `cargo run -p migration -- up`, or from Rust:
//!
//! ```no_run
//! # async fn run(db: &sea_orm_migration::sea_orm::DatabaseConnection) -> Result<(), sea_orm_migration::DbErr> {
//! use migration::{Migrator, MigratorTrait};
//! Migrator::up(db, None).await
//! # }
//! ```

pub use sea_orm_migration::prelude::*;

mod sql_migration;

pub use sql_migration::PRELUDE;

pub use sql_migration::SqlMigration;

/// The ordered list of schema migrations.
pub struct Migrator;

/// Declares a migration whose SQL lives in `src/migrations/<name>.{up,down}.sql`.
macro_rules! sql_migration {
    ($name:literal) => {
        SqlMigration {
            name: $name,
            up: include_str!(concat!("migrations/", $name, ".up.sql")),
            down: include_str!(concat!("migrations/", $name, ".down.sql")),
        }
    };
}

/// Every migration of the schema, in the order they apply.
pub const MIGRATIONS: &[SqlMigration] = &[
    sql_migration!("m20260115_000001_metadata"),
    sql_migration!("m20260115_000002_instrument_master"),
    sql_migration!("m20260115_000003_time_series"),
    sql_migration!("m20260115_000004_scenarios"),
    sql_migration!("m20260115_000005_simulation"),
    sql_migration!("m20260115_000006_partitions"),
    sql_migration!("m20260115_000007_seed"),
    sql_migration!("m20261201_000001_create_simulation_run_instrument"),
    sql_migration!("m20261208_000001_series_read_functions"),
];

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        MIGRATIONS
            .iter()
            .map(|m| Box::new(*m) as Box<dyn MigrationTrait>)
            .collect()
    }
}
