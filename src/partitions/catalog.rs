//! The catalog's view of the three parents' partitions: which exist, what they hold, how big they
//! are. Everything else in partition upkeep names partitions only as this module read them back.

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use serde::Serialize;

use super::Parent;
use crate::error::{Error, PartitionError, Result};

/// How [`list`] counts rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowCounting {
    /// `count(*)` of every partition: exact, and reads every row (fine for the sizes here).
    #[default]
    Exact,
    /// `pg_class.reltuples`: free, as fresh as the last `VACUUM`/`ANALYZE`, and unknown (`None`)
    /// for a partition never analysed.
    Estimated,
}

/// What a partition is, judged by its name *and* its bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PartitionKind {
    /// The parent's DEFAULT partition (the safety net for rows no monthly partition takes).
    Default,
    /// `<parent>_YYYYMM`, in the parent's schema, bounded by exactly that month.
    Monthly {
        /// First day of the month the partition holds.
        month: NaiveDate,
    },
    /// Attached to the parent but not one of ours (hand-made name, bounds or schema); listed,
    /// never touched.
    Other {
        /// The partition bound as PostgreSQL prints it.
        bound: String,
    },
}

/// One partition of one of the three parents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionInfo {
    /// The parent it is attached to.
    pub parent: Parent,
    /// Its schema.
    pub schema: String,
    /// Its table name.
    pub name: String,
    /// Default, monthly or other.
    #[serde(flatten)]
    pub kind: PartitionKind,
    /// Rows in it: exact or estimated as `rows_exact` says; `None` when an estimate is unknown.
    pub rows: Option<i64>,
    /// Whether `rows` is an exact `count(*)`.
    pub rows_exact: bool,
    /// `pg_total_relation_size`: table, indexes and TOAST, in bytes.
    pub total_bytes: i64,
    /// `schema.name` quoted by PostgreSQL's `format('%I.%I')`: the only form in which a
    /// partition name is ever spliced into SQL.
    #[serde(skip)]
    pub(crate) qualified: String,
    /// The parent's `schema.name`, quoted the same way.
    #[serde(skip)]
    pub(crate) parent_qualified: String,
}

impl PartitionInfo {
    /// The month of a monthly partition.
    pub fn month(&self) -> Option<NaiveDate> {
        match self.kind {
            PartitionKind::Monthly { month } => Some(month),
            _ => None,
        }
    }
}

#[derive(Debug, FromQueryResult)]
struct CatalogRow {
    parent: String,
    schema: String,
    name: String,
    qualified: String,
    parent_qualified: String,
    is_default: bool,
    bound: String,
    month: Option<NaiveDate>,
    rows: Option<i64>,
    total_bytes: i64,
}

// The parent is resolved like `create_monthly_partitions` resolves it (`to_regclass`, so through
// the search path), and its children come from `pg_inherits`. A child counts as monthly only when
// its name is `<parent>_YYYYMM` with a real month, it lives in the parent's schema, and its bound
// is exactly that month: a name alone never makes a table droppable. The CASE keeps `to_date`
// away from names that are not a valid month. Exact counts run one `count(*)` per partition via
// `query_to_xml`, on the catalog-quoted name.
const CATALOG_SQL: &str = include_str!("catalog.sql");

/// The rows of a catalog query over the three parents' partitions, bound as `$1` parents, `$2`
/// whether to count rows exactly, `$3` an optional partition name.
pub(super) async fn catalog_rows<R: FromQueryResult, C: ConnectionTrait>(
    db: &C,
    sql: &str,
    counting: RowCounting,
    name: Option<&str>,
) -> Result<Vec<R>> {
    let parents: Vec<String> = Parent::ALL.iter().map(|p| p.table().to_owned()).collect();
    Ok(R::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [
            parents.into(),
            (counting == RowCounting::Exact).into(),
            name.map(str::to_owned).into(),
        ],
    ))
    .all(db)
    .await?)
}

async fn query<C: ConnectionTrait>(
    db: &C,
    counting: RowCounting,
    name: Option<&str>,
) -> Result<Vec<PartitionInfo>> {
    let rows: Vec<CatalogRow> = catalog_rows(db, CATALOG_SQL, counting, name).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let parent = Parent::from_table(&row.parent)?;
            let kind = match (row.is_default, row.month) {
                (true, _) => PartitionKind::Default,
                (false, Some(month)) => PartitionKind::Monthly { month },
                (false, None) => PartitionKind::Other { bound: row.bound },
            };
            Some(PartitionInfo {
                parent,
                schema: row.schema,
                name: row.name,
                kind,
                rows: row.rows,
                rows_exact: counting == RowCounting::Exact,
                total_bytes: row.total_bytes,
                qualified: row.qualified,
                parent_qualified: row.parent_qualified,
            })
        })
        .collect())
}

/// Every partition attached to the three parents (DEFAULT ones included), ordered by parent,
/// then monthly and other partitions by name, then DEFAULT, with row counts as `counting` says
/// and total sizes.
///
/// # Errors
/// When the database refuses.
#[tracing::instrument(skip(db))]
pub async fn list<C: ConnectionTrait>(db: &C, counting: RowCounting) -> Result<Vec<PartitionInfo>> {
    query(db, counting, None).await
}

/// The partition called `name`, if it is attached to one of the three parents. `name` is only
/// ever compared with catalog names (as a bound parameter), so any text is safe to pass.
///
/// # Errors
/// [`PartitionError::UnknownPartition`] when no partition of the three parents has that name; otherwise
/// when the database refuses.
#[tracing::instrument(skip(db))]
pub async fn find_partition<C: ConnectionTrait>(
    db: &C,
    name: &str,
    counting: RowCounting,
) -> Result<PartitionInfo> {
    query(db, counting, Some(name))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            Error::Partition(PartitionError::UnknownPartition {
                name: name.to_owned(),
            })
        })
}
