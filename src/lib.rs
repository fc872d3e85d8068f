//! Foresto Phase 1 data layer: the typed service functions over the schema that the `migration`
//! crate creates and the `entity` crate maps.
//!
//! Every service function takes `&C where C: sea_orm::ConnectionTrait` (a connection or a
//! transaction; a few that stream or COPY take the pool, `&DatabaseConnection`), returns typed
//! values, and fails with [`Error`]. Settings (engine version, result cache, pool) are a value,
//! [`Settings`], that the caller builds and passes; the library reads no environment of its own.
//!
//! An application depends on the library alone with `default-features = false`; the features
//! `chart`, `local-server` and `testing` add charts, a self-run PostgreSQL server and the
//! test-database helper, and `cli` (the default) is the `foresto` binary.
//!
//! # Where each table is handled
//!
//! | table | entity (`entity::…`) | module |
//! |---|---|---|
//! | `model_version_registry` | `model_version_registry` | seeded by the migrations; read through the entity |
//! | `source_load_history` | `source_load_history` | [`load_history`] |
//! | `instrument_master` | `instrument_master` | [`instruments`] |
//! | `daily_price` (monthly partitions) | `daily_price` | [`prices`] (loads), [`series`] (reads) |
//! | `daily_return` (monthly partitions) | `daily_return` | [`returns`] (compute), [`series`] (reads) |
//! | `scenario_definition` | `scenario_definition` | [`scenarios`] |
//! | `portfolio_model`, `portfolio_allocation` | same names | [`scenarios`] (versions, seed) |
//! | `simulation_run`, `simulation_path` (partitioned), `simulation_summary` | same names | [`simulation`] |
//! | partitions of the three partitioned tables | — | [`partitions`] |
//! | all of them (sizes, index use, coverage) | — | [`stats`] |
//! | `daily_price`, `daily_return` (gaps, staleness, fills, jumps, bad rows) | — | [`quality`] |
//!
//! The simulation figures themselves come from [`engine`], which is pure (no database); the seed
//! data lives in `data/seed/` and is read by [`seed_data`]. `docs/` holds the schema, metric and
//! seed-data references.
mod csv_header;
mod csv_lines;
pub mod db;
pub mod engine;
pub mod error;
mod gzip_file;
pub mod instruments;
pub mod load_history;
pub mod partitions;
pub mod prices;
mod printable;
pub mod quality;
pub mod returns;
pub mod scenarios;
pub mod seed_data;
pub mod series;
pub mod settings;
pub mod simulation;
pub mod stats;
pub mod tables;

#[cfg(feature = "chart")]
pub mod chart;
#[cfg(feature = "testing")]
pub mod testing;

#[cfg(feature = "local-server")]
pub use error::LocalServerError;
pub use error::{
    DatabaseError, Error, IngestError, InstrumentError, PartitionError, Result, ScenarioError,
    SimulationError,
};
pub use settings::Settings;
