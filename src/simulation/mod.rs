//! Simulation requests, result store and cache.
pub mod request;
