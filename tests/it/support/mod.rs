//! What the areas of the `it` binary share: the test database, raw SQL, schema snapshots, the
//! CLI, files, server notices, and the fixtures several areas build. The compiler checks that
//! each is used.

mod cli;
mod errors;
mod files;
mod fixtures;
mod notices;
mod schema;
mod sql;

pub use cli::{foresto, foresto_at, foresto_command, foresto_fails, foresto_in, foresto_ok};
pub use errors::{archive_exists, invalid_input};
pub use files::{gunzip, gunzip_csv, reachable_tempdir, write_file};
pub use fixtures::{date, etf, instrument_id, migrated_with, real_etf_data, request, version};
pub use foresto::testing::TestDatabase;
pub use notices::{Capture, Notices, capture};
pub use schema::{TABLES, assert_same_schema, months_through_now_plus, schema_snapshot};
pub use sql::{count, exec, partitions_of, pool, row_count, select_one, stored_runs, strings};
