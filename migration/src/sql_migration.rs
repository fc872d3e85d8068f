//! A migration step made of two SQL scripts.

use sea_orm_migration::prelude::*;

/// Helpers (`pg_temp` functions) every step may call; created afresh on the step's connection.
pub const PRELUDE: &str = include_str!("migrations/prelude.sql");

/// One migration step: `up` and `down` are whole SQL scripts, run with the simple query
/// protocol (several statements, `DO` blocks and function bodies allowed).
#[derive(Debug, Clone, Copy)]
pub struct SqlMigration {
    /// The step's name as recorded in `seaql_migrations`.
    pub name: &'static str,
    /// Script that applies the step; idempotent.
    pub up: &'static str,
    /// Script that reverts the step.
    pub down: &'static str,
}

impl SqlMigration {
    async fn run(&self, manager: &SchemaManager<'_>, script: &str) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(PRELUDE).await?;
        db.execute_unprepared(script)
            .await
            .map_err(|e| DbErr::Migration(format!("{}: {e}", self.name)))?;
        Ok(())
    }
}

impl MigrationName for SqlMigration {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SqlMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.run(manager, self.up).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.run(manager, self.down).await
    }
}
