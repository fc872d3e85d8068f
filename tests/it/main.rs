//! Foresto's integration tests, linked as one binary: one module per area, each test on a
//! database of its own (`support::TestDatabase`), all of them against one throwaway PostgreSQL
//! server started once for the whole run.

mod support;

mod backup_restore;
mod chart;
mod cli_config;
mod demo;
mod entities;
mod errors;
mod input_bounds;
mod instruments;
mod integrity;
mod load_history;
mod local_server;
mod local_server_security;
mod migration_lifecycle;
mod partition_safety;
mod partitions;
mod pg_versions;
mod price_load;
mod quality;
mod replicas;
mod returns;
mod scenarios;
mod schema_conformance;
mod series;
mod settings;
mod simulation_concurrency;
mod simulation_portfolio;
mod simulation_service;
mod simulation_store;
mod stale_results;
mod stats;
mod tls;
