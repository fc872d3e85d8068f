//! Which months a parent has monthly partitions for, told by name alone (the test
//! `create_monthly_partitions` applies before it creates one), read without opening any
//! partition: the list stays cheap however many partitions there are.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use super::Parent;
use crate::error::Result;

/// The `YYYYMM` suffixes of the parent's partitions named `<parent>_YYYYMM`.
const SUFFIXES: &str = "
    SELECT right(c.relname, 6) AS suffix
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = to_regclass($1) AND c.relname ~ ('^' || $1 || '_[0-9]{6}$')";

#[derive(Debug, FromQueryResult)]
struct Suffix {
    suffix: String,
}

/// The first days of the months `parent` has a partition named for.
///
/// # Errors
/// When the database refuses.
pub(crate) async fn existing_months<C: ConnectionTrait>(
    db: &C,
    parent: Parent,
) -> Result<BTreeSet<NaiveDate>> {
    let rows = Suffix::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        SUFFIXES,
        [parent.table().into()],
    ))
    .all(db)
    .await?;
    Ok(rows.iter().filter_map(|r| month_of(&r.suffix)).collect())
}

/// The month a `YYYYMM` suffix names, as [`Parent::partition_name`] writes it.
fn month_of(suffix: &str) -> Option<NaiveDate> {
    let year = suffix.get(..4)?.parse().ok()?;
    let month = suffix.get(4..)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_read_back_what_partition_names_write() {
        for month in [
            NaiveDate::from_ymd_opt(1993, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2036, 12, 1).unwrap(),
            NaiveDate::from_ymd_opt(0, 1, 1).unwrap(),
        ] {
            let name = Parent::DailyPrice.partition_name(month);
            assert_eq!(month_of(&name[name.len() - 6..]), Some(month), "{name}");
        }
        assert_eq!(month_of("202413"), None);
        assert_eq!(month_of("2024x1"), None);
    }
}
