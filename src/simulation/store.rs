//! Writing a computed run: its `simulation_run` row, the instruments it read
//! (`simulation_run_instrument`), its `simulation_summary` row and `simulation_path` rows,
//! together.

use std::fmt::Write as _;

use chrono::TimeDelta;
use entity::enums::{RebalanceFreq, RunStatus};
use entity::{simulation_run, simulation_summary};
use sea_orm::{ActiveEnum, ConnectionTrait, FromQueryResult, QueryResult};
use sqlx::PgConnection;

use super::request::{SimulationRequest, Subject};
use crate::engine::{StoredPathPoint, StoredSummary};
use crate::error::Result;
use crate::partitions::{self, Parent};

/// What a computation produces for the store: the figures at column scale, and the two run
/// columns only the computation knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputedRun {
    /// The portfolio version in force on the start date.
    pub portfolio_id: Option<i64>,
    /// The frequency actually used (the request's, or the portfolio's).
    pub rebalance_freq: Option<RebalanceFreq>,
    /// Every instrument whose daily returns the computation read (any order; repeats are
    /// ignored). A later change to one of their returns inside the run's window expires the run
    /// ([`super::invalidate`]); a run that read none is never expired that way.
    pub instrument_ids: Vec<i64>,
    pub summary: StoredSummary,
    /// In date order, one point per date.
    pub path: Vec<StoredPathPoint>,
}

/// A completed run as stored: the run row, its summary row and its whole path in date order.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    pub run: simulation_run::Model,
    pub summary: simulation_summary::Model,
    /// `simulation_path` rows without their bookkeeping columns.
    pub path: Vec<StoredPathPoint>,
}

/// Makes sure `simulation_path` has a monthly partition for every month `path` has a date in —
/// only those: a path with dates in 2024 and 2090 does not create the months between — within
/// `limits`: the months of `path` that have no partition yet must lie in `limits.window`, and at most `limits.max_new` of them are created; returns
/// how many were. A month that already has its partition is used whatever the window: the
/// window bounds what gets created, and a partition made earlier under a wider window (returns
/// loaded from 1850, say) must stay writable.
///
/// # Errors
/// [`PartitionError::OutsideWindow`](crate::PartitionError::OutsideWindow) and
/// [`PartitionError::TooManyPartitions`](crate::PartitionError::TooManyPartitions) before any
/// partition is created; otherwise when the database refuses.
#[tracing::instrument(skip(db, path), fields(rows = path.len()))]
pub async fn ensure_path_partitions<C: ConnectionTrait>(
    db: &C,
    path: &[StoredPathPoint],
    limits: &partitions::PartitionLimits,
) -> Result<u32> {
    let existing = partitions::existing_months(db, Parent::SimulationPath).await?;
    let missing = path
        .iter()
        .map(|p| partitions::month_start(p.date))
        .filter(|month| !existing.contains(month));
    partitions::ensure_months_for(db, Parent::SimulationPath, missing, limits).await
}

/// Inserts the run (status COMPLETED, `expires_at` = now + `ttl`, or NULL for none), the
/// instruments it read (`simulation_run_instrument`), its summary and its path (one COPY) on
/// `conn`, which the caller has in a transaction: they all commit or vanish together. The path's
/// partitions must exist ([`ensure_path_partitions`]).
///
/// # Errors
/// When the database refuses a row, e.g. a figure that overflows its column, a hash that is
/// already stored, or an instrument id that `instrument_master` does not have.
#[tracing::instrument(skip_all, fields(request_hash = %request_hash, rows = computed.path.len()))]
pub async fn insert_run(
    conn: &mut PgConnection,
    request_hash: &str,
    request: &SimulationRequest,
    computed: &ComputedRun,
    ttl: Option<TimeDelta>,
) -> Result<(simulation_run::Model, simulation_summary::Model)> {
    let scenario_id = match &request.subject {
        Subject::Scenario { scenario_id } => Some(scenario_id.as_str()),
        Subject::Portfolio { .. } => None,
    };
    let params = serde_json::to_value(request).expect("a request always serialises to JSON");
    let row = sqlx::query(
        "INSERT INTO simulation_run (request_hash, scenario_id, portfolio_id, user_id, start_date,
             end_date, initial_amount, rebalance_freq, max_loss_limit_pct, request_params,
             engine_version, run_status, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now() + $13)
         RETURNING *",
    )
    .bind(request_hash)
    .bind(scenario_id)
    .bind(computed.portfolio_id)
    .bind(request.user_id)
    .bind(request.start_date)
    .bind(request.end_date)
    .bind(request.initial_amount)
    .bind(computed.rebalance_freq.map(|f| f.to_value()))
    .bind(request.max_loss_limit_pct)
    .bind(params)
    .bind(&request.engine_version)
    .bind(RunStatus::Completed.to_value())
    .bind(ttl)
    .fetch_one(&mut *conn)
    .await?;
    let run = simulation_run::Model::from_query_result(&QueryResult::from(row), "")?;

    sqlx::query(
        "INSERT INTO simulation_run_instrument (run_id, instrument_id)
         SELECT $1, unnest($2::bigint[])
         ON CONFLICT DO NOTHING",
    )
    .bind(run.run_id)
    .bind(&computed.instrument_ids)
    .execute(&mut *conn)
    .await?;

    let s = &computed.summary;
    let row = sqlx::query(
        "INSERT INTO simulation_summary (run_id, max_drawdown, max_recovery_days, worst_1m_return,
             worst_3m_return, volatility, total_return, cagr, sharpe_ratio, sortino_ratio,
             final_value, trading_days, rebalance_count)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         RETURNING *",
    )
    .bind(run.run_id)
    .bind(s.max_drawdown)
    .bind(s.max_recovery_days)
    .bind(s.worst_1m_return)
    .bind(s.worst_3m_return)
    .bind(s.volatility)
    .bind(s.total_return)
    .bind(s.cagr)
    .bind(s.sharpe_ratio)
    .bind(s.sortino_ratio)
    .bind(s.final_value)
    .bind(s.trading_days)
    .bind(s.rebalance_count)
    .fetch_one(&mut *conn)
    .await?;
    let summary = simulation_summary::Model::from_query_result(&QueryResult::from(row), "")?;

    let mut copy = conn
        .copy_in_raw(
            "COPY simulation_path (run_id, path_date, nav, daily_return, cumulative_return, \
             drawdown, high_water_mark) FROM STDIN",
        )
        .await?;
    copy.send(copy_text(run.run_id, &computed.path).into_bytes())
        .await?;
    copy.finish().await?;
    Ok((run, summary))
}

/// The path as COPY text rows: tab-separated, `\N` for NULL. Decimals print exactly.
fn copy_text(run_id: i64, path: &[StoredPathPoint]) -> String {
    let mut out = String::with_capacity(path.len() * 96);
    for p in path {
        let _ = write!(out, "{run_id}\t{}\t{}", p.date, p.nav);
        for value in [
            p.daily_return,
            p.cumulative_return,
            p.drawdown,
            p.high_water_mark,
        ] {
            match value {
                Some(v) => {
                    let _ = write!(out, "\t{v}");
                }
                None => out.push_str("\t\\N"),
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use rust_decimal::Decimal;

    use super::*;

    #[test]
    fn copy_rows_are_exact_and_null_aware() {
        let point = StoredPathPoint {
            date: NaiveDate::from_ymd_opt(2019, 12, 31).unwrap(),
            nav: Decimal::new(10_000_000, 4),
            daily_return: Some(Decimal::new(-123, 8)),
            cumulative_return: None,
            drawdown: Some(Decimal::new(0, 8)),
            high_water_mark: Some(Decimal::new(10_000_000, 4)),
        };
        assert_eq!(
            copy_text(7, &[point]),
            "7\t2019-12-31\t1000.0000\t-0.00000123\t\\N\t0.00000000\t1000.0000\n"
        );
    }
}
