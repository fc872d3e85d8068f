//! SeaORM entities for the Foresto Phase 1 schema: one module per table (partitioned tables by
//! their parent only), the string enums of the coded columns, and a [`prelude`].
//!
//! `ActiveModelBehavior::before_save` stamps `updated_at` on the tables that have one; like every
//! SeaORM hook it runs for `ActiveModel::{insert, update, save}` only, not for bulk
//! `Entity::insert_many` / `update_many` statements.

pub mod enums;
pub mod prelude;

pub mod daily_price;
pub mod daily_return;
pub mod instrument_master;
pub mod model_version_registry;
pub mod portfolio_allocation;
pub mod portfolio_model;
pub mod scenario_definition;
pub mod simulation_path;
pub mod simulation_run;
pub mod simulation_run_instrument;
pub mod simulation_summary;
pub mod source_load_history;

use sea_orm::{ActiveValue, entity::prelude::DateTimeWithTimeZone};

/// The `before_save` rule for `updated_at`: now (UTC) on every update, and on insert unless the
/// caller set it.
fn touch_updated_at(updated_at: &mut ActiveValue<Option<DateTimeWithTimeZone>>, insert: bool) {
    if !insert || updated_at.is_not_set() {
        *updated_at = ActiveValue::Set(Some(chrono::Utc::now().fixed_offset()));
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{
        ActiveValue::NotSet, DbBackend, EntityTrait, QuerySelect, QueryTrait, Related, Set,
    };

    use super::*;

    #[test]
    fn updated_at_is_stamped_on_update_and_on_insert_only_when_unset() {
        let earlier = chrono::DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z").unwrap();

        let mut unset = NotSet;
        touch_updated_at(&mut unset, true);
        assert!(unset.is_set());

        let mut given = Set(Some(earlier));
        touch_updated_at(&mut given, true);
        assert_eq!(given, Set(Some(earlier)));

        touch_updated_at(&mut given, false);
        assert!(matches!(given, ActiveValue::Set(Some(t)) if t > earlier));
    }

    #[test]
    fn insert_leaves_unset_bigserial_columns_to_the_database() {
        let bar = daily_price::ActiveModel {
            instrument_id: Set(1),
            trade_date: Set(chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()),
            close_price: Set(rust_decimal::Decimal::new(12_345, 2)),
            ..Default::default()
        };
        let sql = daily_price::Entity::insert(bar)
            .build(DbBackend::Postgres)
            .to_string();
        assert_eq!(
            sql,
            r#"INSERT INTO "daily_price" ("instrument_id", "trade_date", "close_price") VALUES (1, '2026-01-02', 123.45)"#
        );
    }

    #[test]
    fn portfolios_and_instruments_relate_through_allocations() {
        let sql = <portfolio_model::Entity as Related<instrument_master::Entity>>::find_related()
            .select_only()
            .column(instrument_master::Column::Ticker)
            .build(DbBackend::Postgres)
            .to_string();
        assert_eq!(
            sql,
            r#"SELECT "instrument_master"."ticker" FROM "instrument_master" INNER JOIN "portfolio_allocation" ON "portfolio_allocation"."instrument_id" = "instrument_master"."instrument_id" INNER JOIN "portfolio_model" ON "portfolio_model"."portfolio_id" = "portfolio_allocation"."portfolio_id""#
        );
        let sql = <instrument_master::Entity as Related<portfolio_model::Entity>>::find_related()
            .select_only()
            .column(portfolio_model::Column::PortfolioId)
            .build(DbBackend::Postgres)
            .to_string();
        assert_eq!(
            sql,
            r#"SELECT "portfolio_model"."portfolio_id" FROM "portfolio_model" INNER JOIN "portfolio_allocation" ON "portfolio_allocation"."portfolio_id" = "portfolio_model"."portfolio_id" INNER JOIN "instrument_master" ON "instrument_master"."instrument_id" = "portfolio_allocation"."instrument_id""#
        );
    }
}
