//! The HTTP API example driven over HTTP, against real PostgreSQL (a database per test from
//! `foresto::testing::TestDatabase`): one module per area, shared helpers in `support`.

mod backtest;
mod binary;
mod load;
mod outage;
mod prices;
mod routes;
mod scenarios;
mod support;
