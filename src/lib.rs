//! Foresto Phase 1 data layer: the typed service functions over the schema that the `migration`
//! crate creates and the `entity` crate maps.
pub mod db;
pub mod engine;
pub mod error;
pub mod simulation;
pub mod testing;

pub use error::{Error, Result};
