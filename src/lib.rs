//! Foresto Phase 1 data layer.
pub mod engine;
pub mod simulation;
