//! The operations view: the setup guide's monitoring figures (table sizes with the data/index
//! split, index usage, cache-hit ratio) rolled up per logical table — a partitioned parent counts
//! with all its partitions — plus partition coverage, rows waiting in DEFAULT partitions, stale
//! loads and expired simulation runs.

use std::time::Duration;

use chrono::{Datelike, Months, NaiveDate};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, TransactionTrait};
use serde::Serialize;

use crate::error::Result;
use crate::partitions::{self, DefaultRows, Parent, RowCounting};
use crate::simulation::cleanup::{CleanupOptions, cleanup_expired};

/// How long a STARTED load may go without a live loader before it counts as stale here.
pub const STALE_LOAD_AFTER: Duration = Duration::from_secs(60 * 60);

/// Size of one logical table (a partitioned parent includes its partitions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromQueryResult)]
pub struct TableSize {
    pub table: String,
    /// Number of physical tables behind it (1, or the partition count).
    pub relations: i64,
    pub total_bytes: i64,
    pub data_bytes: i64,
    pub index_bytes: i64,
}

/// Use of one logical index (a partitioned index includes its partitions' indexes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromQueryResult)]
pub struct IndexUsage {
    pub table: String,
    pub index: String,
    pub idx_scan: i64,
    pub idx_tup_read: i64,
    pub idx_tup_fetch: i64,
}

/// Buffer-cache hits of one logical table's heap.
#[derive(Debug, Clone, PartialEq, Serialize, FromQueryResult)]
pub struct CacheHit {
    pub table: String,
    pub heap_blks_read: i64,
    pub heap_blks_hit: i64,
    /// Percent of heap block requests served from the cache; `None` before any request.
    pub hit_ratio: Option<f64>,
}

/// Which months a partitioned parent has monthly partitions for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub parent: Parent,
    pub monthly_partitions: usize,
    pub first_month: Option<NaiveDate>,
    pub last_month: Option<NaiveDate>,
    /// Whole months from the current month to the last partitioned month (negative: behind).
    pub months_ahead: Option<i64>,
    /// Months between the first and last without a partition.
    pub gaps: Vec<NaiveDate>,
}

/// Load and run house-keeping figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Housekeeping {
    /// Loads still STARTED.
    pub loads_started: i64,
    /// STARTED loads older than [`STALE_LOAD_AFTER`] with no live loader (`foresto loads mark-stale`).
    pub stale_load_ids: Vec<i64>,
    /// Stored runs by status.
    pub runs_by_status: Vec<(String, i64)>,
    /// Runs whose `expires_at` has passed (`foresto runs cleanup` deletes them).
    pub expired_runs: u64,
}

/// Everything `foresto stats` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub database: String,
    pub database_bytes: i64,
    pub tables: Vec<TableSize>,
    pub indexes: Vec<IndexUsage>,
    pub cache_hits: Vec<CacheHit>,
    /// Heap hit ratio over all tables, percent.
    pub overall_hit_ratio: Option<f64>,
    pub coverage: Vec<Coverage>,
    pub default_rows: Vec<DefaultRows>,
    pub housekeeping: Housekeeping,
}

const TABLE_SIZES: &str = r#"
SELECT root::regclass::text AS "table", count(*) AS relations,
       sum(pg_total_relation_size(relid))::bigint AS total_bytes,
       sum(pg_relation_size(relid))::bigint AS data_bytes,
       sum(pg_indexes_size(relid))::bigint AS index_bytes
  FROM (SELECT relid, coalesce(pg_partition_root(relid), relid) AS root
          FROM pg_catalog.pg_statio_user_tables) t
 GROUP BY root
 ORDER BY total_bytes DESC, 1
"#;

const INDEX_USAGE: &str = r#"
SELECT coalesce(pg_partition_root(relid), relid)::regclass::text AS "table",
       coalesce(pg_partition_root(indexrelid), indexrelid)::regclass::text AS "index",
       sum(idx_scan)::bigint AS idx_scan, sum(idx_tup_read)::bigint AS idx_tup_read,
       sum(idx_tup_fetch)::bigint AS idx_tup_fetch
  FROM pg_stat_user_indexes
 GROUP BY 1, 2
 ORDER BY idx_scan DESC, 1, 2
"#;

const CACHE_HITS: &str = r#"
SELECT coalesce(pg_partition_root(relid), relid)::regclass::text AS "table",
       sum(coalesce(heap_blks_read, 0))::bigint AS heap_blks_read,
       sum(coalesce(heap_blks_hit, 0))::bigint AS heap_blks_hit,
       round(sum(heap_blks_hit)::numeric
             / NULLIF(sum(heap_blks_hit) + sum(heap_blks_read), 0) * 100, 2)::float8 AS hit_ratio
  FROM pg_statio_user_tables
 GROUP BY 1
 ORDER BY heap_blks_read DESC, 1
"#;

async fn rows<T: FromQueryResult, C: ConnectionTrait>(db: &C, sql: &str) -> Result<Vec<T>> {
    Ok(
        T::find_by_statement(Statement::from_string(DbBackend::Postgres, sql))
            .all(db)
            .await?,
    )
}

#[derive(FromQueryResult)]
struct Scalars {
    database: String,
    database_bytes: i64,
    overall_hit_ratio: Option<f64>,
    loads_started: i64,
}

#[derive(FromQueryResult)]
struct StatusCount {
    run_status: Option<String>,
    runs: i64,
}

/// Collects the operations view. Reads statistics and catalogs only; row counts of DEFAULT
/// partitions are exact (they should be empty), partition sizes come from the catalog.
///
/// # Errors
/// Database errors.
#[tracing::instrument(skip(db))]
pub async fn collect<C>(db: &C, today: NaiveDate) -> Result<Stats>
where
    C: ConnectionTrait + TransactionTrait,
{
    let scalars = rows::<Scalars, _>(
        db,
        "SELECT current_database()::text AS database,
                pg_database_size(current_database()) AS database_bytes,
                (SELECT round(sum(heap_blks_hit)::numeric
                        / NULLIF(sum(heap_blks_hit) + sum(heap_blks_read), 0) * 100, 2)::float8
                   FROM pg_statio_user_tables) AS overall_hit_ratio,
                (SELECT count(*) FROM source_load_history WHERE load_status = 'STARTED') AS loads_started",
    )
    .await?
    .pop()
    .expect("a SELECT without FROM returns one row");
    let runs_by_status = rows::<StatusCount, _>(
        db,
        "SELECT run_status, count(*) AS runs FROM simulation_run GROUP BY 1 ORDER BY 1",
    )
    .await?
    .into_iter()
    .map(|r| (r.run_status.unwrap_or_else(|| "NULL".into()), r.runs))
    .collect();
    let expired = cleanup_expired(
        db,
        &CleanupOptions {
            dry_run: true,
            ..CleanupOptions::default()
        },
    )
    .await?;
    let stale = crate::load_history::find_stale(db, STALE_LOAD_AFTER).await?;
    let partitions = partitions::list(db, RowCounting::Estimated).await?;

    Ok(Stats {
        database: scalars.database,
        database_bytes: scalars.database_bytes,
        tables: rows(db, TABLE_SIZES).await?,
        indexes: rows(db, INDEX_USAGE).await?,
        cache_hits: rows(db, CACHE_HITS).await?,
        overall_hit_ratio: scalars.overall_hit_ratio,
        coverage: Parent::ALL
            .into_iter()
            .map(|parent| {
                let months = partitions
                    .iter()
                    .filter(|p| p.parent == parent)
                    .filter_map(|p| p.month());
                coverage(parent, months, today)
            })
            .collect(),
        default_rows: partitions::default_rows(db).await?,
        housekeeping: Housekeeping {
            loads_started: scalars.loads_started,
            stale_load_ids: stale.into_iter().map(|l| l.load_id).collect(),
            runs_by_status,
            expired_runs: expired.expired,
        },
    })
}

fn months_between(from: NaiveDate, to: NaiveDate) -> i64 {
    i64::from(to.year() - from.year()) * 12 + i64::from(to.month()) - i64::from(from.month())
}

/// Coverage of `parent` from the months of its monthly partitions.
pub fn coverage(
    parent: Parent,
    months: impl Iterator<Item = NaiveDate>,
    today: NaiveDate,
) -> Coverage {
    let mut months: Vec<NaiveDate> = months.collect();
    months.sort();
    months.dedup();
    let (first, last) = (months.first().copied(), months.last().copied());
    let mut gaps = Vec::new();
    if let (Some(first), Some(last)) = (first, last) {
        let mut month = first;
        while month < last {
            if months.binary_search(&month).is_err() {
                gaps.push(month);
            }
            month = month + Months::new(1);
        }
    }
    Coverage {
        parent,
        monthly_partitions: months.len(),
        first_month: first,
        last_month: last,
        months_ahead: last.map(|l| months_between(partitions::month_start(today), l)),
        gaps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, 1).unwrap()
    }

    #[test]
    fn coverage_finds_range_gaps_and_horizon() {
        let c = coverage(
            Parent::DailyPrice,
            [d(2020, 1), d(2020, 2), d(2020, 4), d(2020, 5)].into_iter(),
            NaiveDate::from_ymd_opt(2020, 2, 17).unwrap(),
        );
        assert_eq!(c.monthly_partitions, 4);
        assert_eq!(c.first_month, Some(d(2020, 1)));
        assert_eq!(c.last_month, Some(d(2020, 5)));
        assert_eq!(c.months_ahead, Some(3));
        assert_eq!(c.gaps, vec![d(2020, 3)]);
        let none = coverage(Parent::DailyReturn, std::iter::empty(), d(2020, 1));
        assert_eq!((none.monthly_partitions, none.months_ahead), (0, None));
    }
}
