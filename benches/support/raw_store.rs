//! The hand-written baselines of the result store, shared by the `result_store` and `simulation`
//! benchmarks: a bare run row, one raw COPY of a path, and the run, summary and path read back
//! with plain sqlx.

use std::fmt::Write as _;

use anyhow::Context as _;
use chrono::NaiveDate;
use foresto::engine::StoredPathPoint;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgPool;

/// A bare run row for the raw COPY to hang its path on.
pub async fn raw_run(pool: &PgPool, start: NaiveDate, end: NaiveDate) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO simulation_run (request_hash, start_date, end_date, initial_amount, engine_version)
         VALUES (md5(random()::text) || md5(random()::text), $1, $2, 1, '1.0.0')
         RETURNING run_id",
    )
    .bind(start)
    .bind(end)
    .fetch_one(pool)
    .await?)
}

/// One COPY of the path rows, as a hand-written loader would do it.
pub async fn raw_copy(pool: &PgPool, run_id: i64, path: &[StoredPathPoint]) -> anyhow::Result<()> {
    let mut text = String::with_capacity(path.len() * 96);
    let opt = |v: Option<Decimal>| v.map_or_else(|| "\\N".to_owned(), |d| d.to_string());
    for p in path {
        writeln!(
            text,
            "{run_id}\t{}\t{}\t{}\t{}\t{}\t{}",
            p.date,
            p.nav,
            opt(p.daily_return),
            opt(p.cumulative_return),
            opt(p.drawdown),
            opt(p.high_water_mark)
        )?;
    }
    let mut conn = pool.acquire().await?;
    let mut copy = conn
        .copy_in_raw(
            "COPY simulation_path (run_id, path_date, nav, daily_return, cumulative_return, \
             drawdown, high_water_mark) FROM STDIN",
        )
        .await?;
    copy.send(text.into_bytes()).await?;
    copy.finish().await.context("COPY")?;
    Ok(())
}

type RunRow = (
    i64,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    NaiveDate,
    NaiveDate,
    Decimal,
    Option<String>,
    Option<Decimal>,
    Option<Value>,
    String,
    Option<String>,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
);

type SummaryRow = (
    i64,
    i64,
    Decimal,
    Option<i32>,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
    Decimal,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
    Option<i32>,
    Option<i32>,
    Option<chrono::DateTime<chrono::Utc>>,
);

type PathRow = (
    NaiveDate,
    Decimal,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
);

/// The run, its summary and its path with plain sqlx, decoded into tuples.
pub async fn raw_reads(pool: &PgPool, hash: &str) -> anyhow::Result<usize> {
    let run: RunRow = sqlx::query_as(
        "SELECT run_id, request_hash, scenario_id, portfolio_id, user_id, start_date, end_date,
                initial_amount, rebalance_freq, max_loss_limit_pct, request_params, engine_version,
                run_status, error_message, created_at, expires_at
           FROM simulation_run WHERE request_hash = $1",
    )
    .bind(hash)
    .fetch_one(pool)
    .await?;
    let _summary: SummaryRow = sqlx::query_as(
        "SELECT summary_id, run_id, max_drawdown, max_recovery_days, worst_1m_return,
                worst_3m_return, volatility, total_return, cagr, sharpe_ratio, sortino_ratio,
                final_value, trading_days, rebalance_count, created_at
           FROM simulation_summary WHERE run_id = $1",
    )
    .bind(run.0)
    .fetch_one(pool)
    .await?;
    let path: Vec<PathRow> = sqlx::query_as(
        "SELECT path_date, nav, daily_return, cumulative_return, drawdown, high_water_mark
           FROM simulation_path WHERE run_id = $1 ORDER BY path_date",
    )
    .bind(run.0)
    .fetch_all(pool)
    .await?;
    Ok(path.len())
}
