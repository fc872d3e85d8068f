//! Simulation requests, result store and cache: [`service::simulate`] turns a request — a
//! scenario, or a portfolio given directly — into a stored run (computing it only when the cache
//! has no usable one), [`runs`] reads stored runs, [`invalidate`] expires the runs a data
//! correction makes stale, and [`cleanup`] deletes expired ones (optionally archiving them first).
pub mod archive;
pub mod cache;
pub mod cleanup;
pub mod invalidate;
mod portfolio;
pub mod request;
pub mod runs;
pub mod service;
pub mod store;
mod tx_connection;

pub use cache::{CachePolicy, Cached, get_or_compute};
pub use request::{SimulationRequest, Subject};
pub use runs::{RunFilter, RunKey};
pub use service::{SimulationOutcome, simulate};
pub use store::{ComputedRun, StoredRun};
pub use tx_connection::TxConnection;
