//! Load history: the life cycle of a data load in `source_load_history`.
//!
//! A load is [`start`]ed (STARTED) and [`finish`]ed exactly once, as SUCCESS, PARTIAL (some
//! records rejected: counts and a readable summary) or FAILED (an error message), which stamps
//! `completed_at`. A load whose process died never finishes and stays STARTED: [`find_stale`]
//! finds such loads and [`mark_stale_failed`] closes them as FAILED.
//!
//! A loader may also [`hold_liveness`] on the connection it works on: a session-level advisory
//! lock that PostgreSQL releases by itself when that session ends, however it ends. A STARTED
//! load whose lock is held is alive and never taken for stale, however old it is.

use std::time::Duration;

use entity::enums::LoadStatus;
use entity::source_load_history::{ActiveModel, Column, Entity, Model};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};

use crate::error::{Error, IngestError, Result};

/// What a new load is: where the data comes from and who loads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLoad {
    /// e.g. `manual`, `krx`, `alpha_vantage`, `seed` (at most 50 characters).
    pub source_type: String,
    /// The file or API name (at most 100 characters).
    pub source_name: String,
    /// e.g. `batch`, `admin`, `system` (at most 50 characters).
    pub loaded_by: Option<String>,
}

/// The `source_name` of a load read from the file at `path`: its file name (the whole path when
/// it has none), escaped — a file name is text from outside too — and cut to the column's 100
/// characters.
pub(crate) fn file_source_name(path: &std::path::Path) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    crate::printable::bounded(&name, 100)
        .chars()
        .take(100)
        .collect()
}

/// How a load ended. Counts are records (rows of the target table), not file lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every record was loaded.
    Success { records_loaded: u64 },
    /// Some records were rejected; `summary` says which and why, for people.
    Partial {
        records_loaded: u64,
        records_failed: u64,
        summary: String,
    },
    /// The load as a whole failed; what was committed before the failure is counted.
    Failed {
        records_loaded: u64,
        records_failed: u64,
        error: String,
    },
}

impl Outcome {
    fn status(&self) -> LoadStatus {
        match self {
            Outcome::Success { .. } => LoadStatus::Success,
            Outcome::Partial { .. } => LoadStatus::Partial,
            Outcome::Failed { .. } => LoadStatus::Failed,
        }
    }
}

/// Which loads [`list`] returns; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadFilter {
    pub status: Option<LoadStatus>,
    pub source_type: Option<String>,
    pub source_name: Option<String>,
    /// At most this many loads (the newest).
    pub limit: Option<u64>,
}

fn check_len(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("'{value}' is longer than {max} characters"),
        ));
    }
    Ok(())
}

/// `integer` counters: a count beyond `i32::MAX` is stored as `i32::MAX`.
fn count(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Records a new load as STARTED (with `started_at` = now) and returns its row.
///
/// # Errors
/// [`Error::InvalidInput`] when a name is empty or longer than its column; database errors.
#[tracing::instrument(skip(db))]
pub async fn start<C: ConnectionTrait>(db: &C, load: &NewLoad) -> Result<Model> {
    check_len("source_type", &load.source_type, 50)?;
    check_len("source_name", &load.source_name, 100)?;
    if let Some(by) = &load.loaded_by {
        check_len("loaded_by", by, 50)?;
    }
    let row = ActiveModel {
        source_type: Set(load.source_type.clone()),
        source_name: Set(load.source_name.clone()),
        load_status: Set(LoadStatus::Started),
        loaded_by: Set(load.loaded_by.clone()),
        ..Default::default()
    };
    Ok(row.insert(db).await?)
}

/// Finishes a STARTED load with `outcome`, stamping `completed_at`, and returns the row. Only a
/// STARTED load can be finished, so an outcome is never overwritten (e.g. by a loader that
/// outlived a `mark-stale`).
///
/// # Errors
/// [`Error::NotFound`] for an unknown load; [`IngestError::LoadAlreadyFinished`] when it is not
/// STARTED; database errors.
#[tracing::instrument(skip(db))]
pub async fn finish<C: ConnectionTrait>(db: &C, load_id: i64, outcome: &Outcome) -> Result<Model> {
    let (loaded, failed, message) = match outcome {
        Outcome::Success { records_loaded } => (*records_loaded, 0, None),
        Outcome::Partial {
            records_loaded,
            records_failed,
            summary,
        } => (*records_loaded, *records_failed, Some(summary.clone())),
        Outcome::Failed {
            records_loaded,
            records_failed,
            error,
        } => (*records_loaded, *records_failed, Some(error.clone())),
    };
    let updated = Entity::update_many()
        .col_expr(Column::LoadStatus, Expr::value(outcome.status()))
        .col_expr(Column::RecordsLoaded, Expr::value(count(loaded)))
        .col_expr(Column::RecordsFailed, Expr::value(count(failed)))
        .col_expr(Column::ErrorMessage, Expr::value(message))
        .col_expr(Column::CompletedAt, Expr::current_timestamp())
        .filter(Column::LoadId.eq(load_id))
        .filter(Column::LoadStatus.eq(LoadStatus::Started))
        .exec_with_returning(db)
        .await?;
    match updated.into_iter().next() {
        Some(row) => Ok(row),
        None => Err(Error::Ingest(IngestError::LoadAlreadyFinished {
            load_id,
            status: get(db, load_id).await?.load_status,
        })),
    }
}

/// The load `load_id`.
///
/// # Errors
/// [`Error::NotFound`] when there is no such load; database errors.
#[tracing::instrument(skip(db))]
pub async fn get<C: ConnectionTrait>(db: &C, load_id: i64) -> Result<Model> {
    Entity::find_by_id(load_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("load", load_id))
}

/// The loads matching `filter`, newest first.
///
/// # Errors
/// [`Error::InvalidInput`] when the limit is beyond a `bigint`; database errors.
#[tracing::instrument(skip(db))]
pub async fn list<C: ConnectionTrait>(db: &C, filter: &LoadFilter) -> Result<Vec<Model>> {
    Error::check_limit(filter.limit)?;
    let mut query = Entity::find()
        .order_by_desc(Column::StartedAt)
        .order_by_desc(Column::LoadId);
    if let Some(status) = filter.status {
        query = query.filter(Column::LoadStatus.eq(status));
    }
    if let Some(source_type) = &filter.source_type {
        query = query.filter(Column::SourceType.eq(source_type.as_str()));
    }
    if let Some(source_name) = &filter.source_name {
        query = query.filter(Column::SourceName.eq(source_name.as_str()));
    }
    if let Some(limit) = filter.limit {
        query = query.limit(limit);
    }
    Ok(query.all(db).await?)
}

/// Advisory-lock class of load liveness locks (the second key is the load id).
const LIVENESS_LOCK_CLASS: i32 = 0x4C4F_4144; // "LOAD"

/// The second advisory-lock key of a load: its id, folded into the non-negative `int4` range.
fn liveness_key(load_id: i64) -> i32 {
    (load_id & 0x7FFF_FFFF) as i32
}

/// STARTED loads older than `older_than` whose liveness lock no session holds (loads that
/// never took one are judged by age alone).
const STALE: &str = include_str!("stale.sql");

fn stale_statement(sql: String, older_than: Duration) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [older_than.as_secs_f64().into(), LIVENESS_LOCK_CLASS.into()],
    )
}

/// STARTED loads that started more than `older_than` ago and show no sign of life (no session
/// holds their liveness lock): loads whose process died. Oldest first.
///
/// # Errors
/// Database errors.
#[tracing::instrument(skip(db))]
pub async fn find_stale<C: ConnectionTrait>(db: &C, older_than: Duration) -> Result<Vec<Model>> {
    let sql = format!(
        "SELECT * FROM source_load_history WHERE load_id IN ({STALE}) ORDER BY started_at, load_id"
    );
    Ok(Entity::find()
        .from_raw_sql(stale_statement(sql, older_than))
        .all(db)
        .await?)
}

/// Marks every load [`find_stale`] would return as FAILED (error message says it was found
/// stale; counts are left as they were) and returns them.
///
/// # Errors
/// Database errors.
#[tracing::instrument(skip(db))]
pub async fn mark_stale_failed<C: ConnectionTrait>(
    db: &C,
    older_than: Duration,
) -> Result<Vec<Model>> {
    let sql = format!(
        "UPDATE source_load_history
            SET load_status = 'FAILED', completed_at = now(),
                error_message = 'stale: still STARTED ' || date_trunc('second', now() - started_at)
                                || ' after it started, and no loader alive'
          WHERE load_id IN ({STALE}) AND load_status = 'STARTED'
      RETURNING *"
    );
    let mut rows = Entity::find()
        .from_raw_sql(stale_statement(sql, older_than))
        .all(db)
        .await?;
    rows.sort_by_key(|r| (r.started_at, r.load_id));
    Ok(rows)
}

/// Takes load `load_id`'s liveness lock on `conn`'s session, so that the load is not taken for
/// stale while this session lives. Release it with [`release_liveness`] before handing the
/// session to anything else (or close the session).
///
/// # Errors
/// [`Error::InvalidInput`] when another session holds it; database errors.
#[tracing::instrument(skip(conn))]
pub async fn hold_liveness(conn: &mut sqlx::PgConnection, load_id: i64) -> Result<()> {
    let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
        .bind(LIVENESS_LOCK_CLASS)
        .bind(liveness_key(load_id))
        .fetch_one(conn)
        .await?;
    if taken {
        Ok(())
    } else {
        Err(Error::invalid(
            "load_id",
            format!("load {load_id} is being worked on by another session"),
        ))
    }
}

/// Releases the lock [`hold_liveness`] took on this session.
///
/// # Errors
/// Database errors.
#[tracing::instrument(skip(conn))]
pub async fn release_liveness(conn: &mut sqlx::PgConnection, load_id: i64) -> Result<()> {
    sqlx::query("SELECT pg_advisory_unlock($1, $2)")
        .bind(LIVENESS_LOCK_CLASS)
        .bind(liveness_key(load_id))
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_keys_are_non_negative_int4() {
        assert_eq!(liveness_key(7), 7);
        assert_eq!(liveness_key(i64::from(i32::MAX) + 1), 0);
        assert!(liveness_key(i64::MAX) >= 0);
    }

    #[test]
    fn counts_saturate_at_the_integer_column_limit() {
        assert_eq!(count(5), 5);
        assert_eq!(count(u64::MAX), i32::MAX);
    }

    #[test]
    fn names_longer_than_their_column_are_refused() {
        assert!(check_len("source_name", &"x".repeat(100), 100).is_ok());
        assert!(check_len("source_name", &"x".repeat(101), 100).is_err());
        assert!(check_len("source_type", " ", 50).is_err());
    }
}
