//! Reading stored runs: by id or hash, their summary and path, lists by scenario, user and
//! status.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use entity::enums::RunStatus;
use entity::{simulation_path, simulation_run, simulation_summary};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::store::StoredRun;
use crate::engine::StoredPathPoint;
use crate::error::{Error, Result};

/// How a caller names a run: its id, or its request hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunKey {
    Id(i64),
    Hash(String),
}

impl fmt::Display for RunKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Hash(hash) => f.write_str(hash),
        }
    }
}

impl FromStr for RunKey {
    type Err = Error;

    /// 64 hex digits are a hash (any case); a whole number is an id.
    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(Self::Hash(text.to_ascii_lowercase()));
        }
        text.parse().map(Self::Id).map_err(|_| {
            Error::invalid(
                "run",
                format!("'{text}' is neither a run id nor a 64-digit request hash"),
            )
        })
    }
}

/// Which runs [`list`] returns; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    pub scenario_id: Option<String>,
    pub user_id: Option<i64>,
    pub status: Option<RunStatus>,
    /// At most this many, newest first.
    pub limit: Option<u64>,
}

/// The run named by `key`, whatever its status.
///
/// # Errors
/// [`Error::NotFound`] when there is none.
#[tracing::instrument(skip(db))]
pub async fn find<C: ConnectionTrait>(db: &C, key: &RunKey) -> Result<simulation_run::Model> {
    let query = simulation_run::Entity::find();
    let query = match key {
        RunKey::Id(id) => query.filter(simulation_run::Column::RunId.eq(*id)),
        RunKey::Hash(hash) => query.filter(simulation_run::Column::RequestHash.eq(hash.as_str())),
    };
    query
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("simulation run", key))
}

/// The summary of `run_id` (none for a run that never completed).
///
/// # Errors
/// When the database refuses.
#[tracing::instrument(skip(db))]
pub async fn summary<C: ConnectionTrait>(
    db: &C,
    run_id: i64,
) -> Result<Option<simulation_summary::Model>> {
    Ok(simulation_summary::Entity::find()
        .filter(simulation_summary::Column::RunId.eq(run_id))
        .one(db)
        .await?)
}

type PathTuple = (
    NaiveDate,
    Decimal,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
);

/// The path of `run_id` in date order.
///
/// # Errors
/// When the database refuses.
#[tracing::instrument(skip(db))]
pub async fn path<C: ConnectionTrait>(db: &C, run_id: i64) -> Result<Vec<StoredPathPoint>> {
    use simulation_path::Column as P;
    let rows: Vec<PathTuple> = simulation_path::Entity::find()
        .select_only()
        .columns([
            P::PathDate,
            P::Nav,
            P::DailyReturn,
            P::CumulativeReturn,
            P::Drawdown,
            P::HighWaterMark,
        ])
        .filter(P::RunId.eq(run_id))
        .order_by_asc(P::PathDate)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(date, nav, daily_return, cumulative_return, drawdown, high_water_mark)| {
                StoredPathPoint {
                    date,
                    nav,
                    daily_return,
                    cumulative_return,
                    drawdown,
                    high_water_mark,
                }
            },
        )
        .collect())
}

/// Runs matching `filter`, newest first.
///
/// # Errors
/// [`Error::InvalidInput`] when the limit is beyond a `bigint`; database errors.
#[tracing::instrument(skip(db))]
pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: &RunFilter,
) -> Result<Vec<simulation_run::Model>> {
    use simulation_run::Column as R;
    Error::check_limit(filter.limit)?;
    let mut query = simulation_run::Entity::find()
        .order_by_desc(R::CreatedAt)
        .order_by_desc(R::RunId);
    if let Some(scenario_id) = &filter.scenario_id {
        query = query.filter(R::ScenarioId.eq(scenario_id.as_str()));
    }
    if let Some(user_id) = filter.user_id {
        query = query.filter(R::UserId.eq(user_id));
    }
    if let Some(status) = filter.status {
        query = query.filter(R::RunStatus.eq(status));
    }
    Ok(query.limit(filter.limit).all(db).await?)
}

/// The condition under which a stored run answers its request: COMPLETED and not expired.
/// (Its summary must exist too; [`usable`] joins it.)
pub(crate) fn answers_requests() -> Condition {
    use simulation_run::Column as R;
    Condition::all()
        .add(R::RunStatus.eq(RunStatus::Completed))
        .add(
            Condition::any()
                .add(R::ExpiresAt.is_null())
                .add(Expr::col(R::ExpiresAt).gt(Expr::current_timestamp())),
        )
}

/// The completed, unexpired run stored for `request_hash`, with its summary and path; `None`
/// when there is no such run. Call it inside one snapshot (a REPEATABLE READ transaction) so
/// that the three reads see the same state.
///
/// # Errors
/// When the database refuses.
#[tracing::instrument(skip(db))]
pub async fn usable<C: ConnectionTrait>(db: &C, request_hash: &str) -> Result<Option<StoredRun>> {
    let found = simulation_run::Entity::find()
        .filter(simulation_run::Column::RequestHash.eq(request_hash))
        .filter(answers_requests())
        .find_also_related(simulation_summary::Entity)
        .one(db)
        .await?;
    let Some((run, Some(summary))) = found else {
        return Ok(None);
    };
    let path = path(db, run.run_id).await?;
    Ok(Some(StoredRun { run, summary, path }))
}
