//! Foresto Phase 1 data layer: the typed service functions over the schema that the `migration`
//! crate creates and the `entity` crate maps.
//!
//! Every service function takes `&C where C: sea_orm::ConnectionTrait` (a connection or a
//! transaction), returns typed values, and fails with [`Error`].
pub mod chart;
pub mod config;
pub mod db;
pub mod engine;
pub mod error;
mod gzip_file;
pub mod instruments;
pub mod load_history;
pub mod partitions;
pub mod prices;
pub mod returns;
pub mod scenarios;
pub mod simulation;
pub mod stats;
pub mod testing;

pub use error::{Error, Result};
