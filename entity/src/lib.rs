//! SeaORM entities for the Foresto Phase 1 schema.
pub mod enums;
