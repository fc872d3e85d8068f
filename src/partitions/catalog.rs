//! The catalog's view of the three parents' partitions: which exist, what they hold, how big they
//! are. Everything else in partition upkeep names partitions only as this module read them back.

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use serde::Serialize;

use super::Parent;
use crate::error::{Error, Result};

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
const CATALOG_SQL: &str = r#"
SELECT p.relname AS parent,
       n.nspname AS schema,
       c.relname AS name,
       format('%I.%I', n.nspname, c.relname) AS qualified,
       format('%I.%I', pn.nspname, p.relname) AS parent_qualified,
       pt.partdefid = c.oid AS is_default,
       pg_get_expr(c.relpartbound, c.oid) AS bound,
       CASE WHEN c.relnamespace = p.relnamespace
             AND pg_get_expr(c.relpartbound, c.oid)
                 = format('FOR VALUES FROM (%L) TO (%L)', m.month, (m.month + interval '1 month')::date)
            THEN m.month END AS month,
       CASE WHEN $2 THEN (xpath('/row/n/text()',
                                query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname),
                                             false, true, '')))[1]::text::bigint
            WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS rows,
       pg_total_relation_size(c.oid) AS total_bytes
  FROM unnest($1::text[]) WITH ORDINALITY AS t (table_name, ord)
  JOIN pg_class p ON p.oid = to_regclass(t.table_name)
  JOIN pg_namespace pn ON pn.oid = p.relnamespace
  JOIN pg_partitioned_table pt ON pt.partrelid = p.oid
  JOIN pg_inherits i ON i.inhparent = p.oid
  JOIN pg_class c ON c.oid = i.inhrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN LATERAL (
        SELECT CASE WHEN c.relname ~ ('^' || p.relname || '_[1-9][0-9]{3}(0[1-9]|1[0-2])$')
                    THEN to_date(right(c.relname, 6), 'YYYYMM') END AS month) m
 WHERE $3::text IS NULL OR c.relname = $3
 ORDER BY t.ord, pt.partdefid = c.oid, c.relname
"#;

async fn query<C: ConnectionTrait>(
    db: &C,
    counting: RowCounting,
    name: Option<&str>,
) -> Result<Vec<PartitionInfo>> {
    let parents: Vec<String> = Parent::ALL.iter().map(|p| p.table().to_owned()).collect();
    let rows = CatalogRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        CATALOG_SQL,
        [
            parents.into(),
            (counting == RowCounting::Exact).into(),
            name.map(str::to_owned).into(),
        ],
    ))
    .all(db)
    .await?;
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
/// [`Error::UnknownPartition`] when no partition of the three parents has that name; otherwise
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
        .ok_or_else(|| Error::UnknownPartition {
            name: name.to_owned(),
        })
}
