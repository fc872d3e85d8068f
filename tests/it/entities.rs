//! The SeaORM entities of the `entity` crate and the migrated schema agree.
//!
//! * Tables: every table of schema `public` (partitions and `seaql_migrations` aside) has exactly
//!   one entity, and every entity's table exists.
//! * Columns: every entity column exists in its table with a compatible catalog type
//!   (`format_type`: varchar lengths and numeric precision/scale included, string `ActiveEnum`s
//!   as `character varying(n)`) and the same nullability; every table column has an entity field.
//! * Round trip: one row per table is written through its `ActiveModel`, read back with
//!   `Entity::find()` and compared field by field with what was written (decimals with the
//!   column's scale, dates, enums, JSON); enums are stored as their documented strings; the
//!   `before_save` hook stamps `instrument_master.updated_at` on update.
//! * Relations: scenario → portfolios → allocations → instruments, run → path, run → summary,
//!   instrument → prices and load → prices return exactly the related rows.
//!
//! The catalog comparisons are pure functions:
//! `type_and_table_checks_report_every_kind_of_mismatch` feeds them deliberately wrong catalogs
//! to show that each kind of mismatch is reported.

use std::collections::{BTreeMap, BTreeSet};
use std::slice;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, Utc};
use entity::prelude::*;
use entity::{
    daily_price, daily_return, instrument_master, model_version_registry, portfolio_allocation,
    portfolio_model, scenario_definition, simulation_path, simulation_run,
    simulation_run_instrument, simulation_summary, source_load_history,
};
use rust_decimal::Decimal;
use sea_orm::sea_query::{ColumnType, StringLen};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityName,
    EntityTrait, IdenStatic, IntoActiveModel, Iterable, ModelTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;

use crate::support::{TestDatabase, date, strings};

// ---------------------------------------------------------------------------------------------
// What the entities declare
// ---------------------------------------------------------------------------------------------

/// One entity as SeaORM sees it: its table and, per column, the declared type and null flag.
#[derive(Debug, Clone)]
struct EntityInfo {
    table: &'static str,
    columns: Vec<EntityColumn>,
}

#[derive(Debug, Clone)]
struct EntityColumn {
    name: &'static str,
    col_type: ColumnType,
    nullable: bool,
}

fn describe<E: EntityTrait>() -> EntityInfo {
    EntityInfo {
        table: E::default().table_name(),
        columns: E::Column::iter()
            .map(|c| {
                let def = c.def();
                EntityColumn {
                    name: c.as_str(),
                    col_type: def.get_column_type().clone(),
                    nullable: def.is_null(),
                }
            })
            .collect(),
    }
}

/// Every entity of the crate, once.
const ENTITIES: [fn() -> EntityInfo; 12] = [
    describe::<SourceLoadHistory>,
    describe::<ModelVersionRegistry>,
    describe::<InstrumentMaster>,
    describe::<DailyPrice>,
    describe::<DailyReturn>,
    describe::<ScenarioDefinition>,
    describe::<PortfolioModel>,
    describe::<PortfolioAllocation>,
    describe::<SimulationRun>,
    describe::<SimulationPath>,
    describe::<SimulationSummary>,
    describe::<SimulationRunInstrument>,
];

fn entities() -> Vec<EntityInfo> {
    ENTITIES.iter().map(|describe| describe()).collect()
}

// ---------------------------------------------------------------------------------------------
// What the catalog says, and the comparisons
// ---------------------------------------------------------------------------------------------

/// A table column as PostgreSQL has it: `format_type(atttypid, atttypmod)` and nullability.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CatalogColumn {
    pg_type: String,
    nullable: bool,
}

/// `(table, column)` → catalog column, for the tables the entities must cover.
type Catalog = BTreeMap<(String, String), CatalogColumn>;

/// The tables of `public` that need an entity: no partitions, no migration bookkeeping.
const TABLES_SQL: &str = "
    SELECT c.relname::text FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
       AND NOT c.relispartition AND c.relname <> 'seaql_migrations'
     ORDER BY 1";

/// The columns of those tables: `table|column|type|nullable`.
const COLUMNS_SQL: &str = "
    SELECT c.relname || '|' || a.attname || '|' || format_type(a.atttypid, a.atttypmod)
           || '|' || (NOT a.attnotnull)::text
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
       AND NOT c.relispartition AND c.relname <> 'seaql_migrations'
       AND a.attnum > 0 AND NOT a.attisdropped";

async fn catalog(db: &DatabaseConnection) -> Catalog {
    strings(db, COLUMNS_SQL)
        .await
        .into_iter()
        .map(|line| {
            let parts: Vec<&str> = line.split('|').collect();
            let [table, column, pg_type, nullable] = parts[..] else {
                panic!("unexpected catalog line {line:?}");
            };
            let nullable = match nullable {
                "true" => true,
                "false" => false,
                other => panic!("unexpected nullability {other:?} in {line:?}"),
            };
            (
                (table.to_owned(), column.to_owned()),
                CatalogColumn {
                    pg_type: pg_type.to_owned(),
                    nullable,
                },
            )
        })
        .collect()
}

/// The `format_type` spelling a SeaORM column type must have in the schema. String
/// `ActiveEnum`s declare `String(StringLen::N(n))`, so they land on `character varying(n)` too.
/// Types the schema does not use spell as `<unsupported …>`, which matches no catalog type.
fn pg_type_of(col_type: &ColumnType) -> String {
    match col_type {
        ColumnType::BigInteger => "bigint".to_owned(),
        ColumnType::Integer => "integer".to_owned(),
        ColumnType::Boolean => "boolean".to_owned(),
        ColumnType::Date => "date".to_owned(),
        ColumnType::Text => "text".to_owned(),
        ColumnType::JsonBinary => "jsonb".to_owned(),
        ColumnType::TimestampWithTimeZone => "timestamp with time zone".to_owned(),
        ColumnType::String(StringLen::N(n)) => format!("character varying({n})"),
        ColumnType::String(_) => "character varying".to_owned(),
        ColumnType::Decimal(Some((precision, scale))) => format!("numeric({precision},{scale})"),
        ColumnType::Decimal(None) => "numeric".to_owned(),
        other => format!("<unsupported {other:?}>"),
    }
}

/// Tables without an entity, entities without a table, and tables claimed by several entities.
fn table_mismatches(entities: &[EntityInfo], tables: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for table in tables {
        let n = entities.iter().filter(|e| e.table == table).count();
        if n != 1 {
            problems.push(format!("table {table} has {n} entities (want exactly 1)"));
        }
    }
    for entity in entities {
        if !tables.iter().any(|t| t == entity.table) {
            problems.push(format!("entity table {} does not exist", entity.table));
        }
    }
    problems
}

/// Every disagreement between the entities' columns and the catalog, one line each.
fn column_mismatches(entities: &[EntityInfo], catalog: &Catalog) -> Vec<String> {
    let mut problems = Vec::new();
    let mut declared = BTreeSet::new();
    for entity in entities {
        for col in &entity.columns {
            let key = (entity.table.to_owned(), col.name.to_owned());
            let at = format!("{}.{}", entity.table, col.name);
            if !declared.insert(key.clone()) {
                problems.push(format!("{at}: declared twice"));
            }
            let Some(db) = catalog.get(&key) else {
                problems.push(format!("{at}: entity column missing from the table"));
                continue;
            };
            let want = pg_type_of(&col.col_type);
            if want != db.pg_type {
                problems.push(format!(
                    "{at}: entity type {:?} (= {want}) but column is {}",
                    col.col_type, db.pg_type
                ));
            }
            if col.nullable != db.nullable {
                problems.push(format!(
                    "{at}: entity nullable={} but column nullable={}",
                    col.nullable, db.nullable
                ));
            }
        }
    }
    let entity_tables: BTreeSet<&str> = entities.iter().map(|e| e.table).collect();
    for (table, column) in catalog.keys() {
        let key = (table.clone(), column.clone());
        if entity_tables.contains(table.as_str()) && !declared.contains(&key) {
            problems.push(format!(
                "{table}.{column}: table column has no entity field"
            ));
        }
    }
    problems
}

#[tokio::test]
async fn every_table_has_exactly_one_entity_and_every_entity_a_table() {
    let t = TestDatabase::migrated().await;
    let tables = strings(t.conn(), TABLES_SQL).await;
    // Guards against a catalog query that silently finds nothing.
    assert_eq!(tables.len(), ENTITIES.len(), "tables: {tables:?}");
    assert_eq!(table_mismatches(&entities(), &tables), Vec::<String>::new());
}

#[tokio::test]
async fn entity_columns_match_the_catalog_in_type_and_nullability() {
    let t = TestDatabase::migrated().await;
    let catalog = catalog(t.conn()).await;
    let entities = entities();
    let declared: usize = entities.iter().map(|e| e.columns.len()).sum();
    // Guards against comparing two empty sets: 115 columns of the original DDL (docs/schema.md,
    // "Tables") and 2 of simulation_run_instrument.
    assert_eq!(catalog.len(), 117);
    assert_eq!(declared, catalog.len());
    assert_eq!(column_mismatches(&entities, &catalog), Vec::<String>::new());
}

#[test]
fn type_and_table_checks_report_every_kind_of_mismatch() {
    // The type spelling distinguishes lengths, precision and scale, json from jsonb.
    let n = |n| ColumnType::String(StringLen::N(n));
    assert_eq!(pg_type_of(&n(20)), "character varying(20)");
    assert_ne!(pg_type_of(&n(20)), "character varying(50)");
    assert_ne!(
        pg_type_of(&ColumnType::String(StringLen::None)),
        "character varying(20)"
    );
    assert_eq!(
        pg_type_of(&ColumnType::Decimal(Some((18, 4)))),
        "numeric(18,4)"
    );
    assert_ne!(
        pg_type_of(&ColumnType::Decimal(Some((18, 2)))),
        "numeric(18,4)"
    );
    assert_ne!(pg_type_of(&ColumnType::Decimal(None)), "numeric(18,4)");
    assert_ne!(pg_type_of(&ColumnType::Json), "jsonb");
    assert_ne!(
        pg_type_of(&ColumnType::Timestamp),
        "timestamp with time zone"
    );
    assert_ne!(pg_type_of(&ColumnType::BigInteger), "integer");

    // A string enum column is checked with the length the enum declares.
    let info = describe::<PortfolioAllocation>();
    let asset_class = info.columns.iter().find(|c| c.name == "asset_class");
    assert_eq!(
        asset_class.map(|c| pg_type_of(&c.col_type)).as_deref(),
        Some("character varying(50)")
    );

    // A catalog that agrees with the entity, then each kind of disagreement.
    let agreeing: Catalog = info
        .columns
        .iter()
        .map(|c| {
            let column = CatalogColumn {
                pg_type: pg_type_of(&c.col_type),
                nullable: c.nullable,
            };
            ((info.table.to_owned(), c.name.to_owned()), column)
        })
        .collect();
    let entities = [info.clone()];
    assert_eq!(
        column_mismatches(&entities, &agreeing),
        Vec::<String>::new()
    );
    let key = |c: &str| ("portfolio_allocation".to_owned(), c.to_owned());

    let mut wrong_type = agreeing.clone();
    wrong_type.get_mut(&key("weight")).unwrap().pg_type = "numeric(5,2)".to_owned();
    let problems = column_mismatches(&entities, &wrong_type);
    assert!(
        problems.len() == 1 && problems[0].contains("portfolio_allocation.weight: entity type"),
        "{problems:?}"
    );

    let mut wrong_null = agreeing.clone();
    wrong_null.get_mut(&key("asset_class")).unwrap().nullable = false;
    let problems = column_mismatches(&entities, &wrong_null);
    assert!(
        problems.len() == 1 && problems[0].contains("asset_class: entity nullable=true"),
        "{problems:?}"
    );

    let mut missing_column = agreeing.clone();
    missing_column.remove(&key("created_at"));
    let problems = column_mismatches(&entities, &missing_column);
    assert!(
        problems.len() == 1 && problems[0].contains("missing from the table"),
        "{problems:?}"
    );

    let mut extra_column = agreeing.clone();
    extra_column.insert(
        key("note"),
        CatalogColumn {
            pg_type: "text".to_owned(),
            nullable: true,
        },
    );
    let problems = column_mismatches(&entities, &extra_column);
    assert!(
        problems.len() == 1 && problems[0].contains("note: table column has no entity field"),
        "{problems:?}"
    );

    // Tables: a table without an entity, an entity without a table, a table claimed twice.
    let tables = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    assert!(table_mismatches(&entities, &tables(&["portfolio_allocation"])).is_empty());
    let problems = table_mismatches(&entities, &tables(&["portfolio_allocation", "audit_log"]));
    assert!(
        problems.len() == 1 && problems[0].contains("audit_log has 0 entities"),
        "{problems:?}"
    );
    let problems = table_mismatches(&entities, &tables(&[]));
    assert!(
        problems.len() == 1 && problems[0].contains("does not exist"),
        "{problems:?}"
    );
    let twice = [info.clone(), info];
    let problems = table_mismatches(&twice, &tables(&["portfolio_allocation"]));
    assert!(
        problems.len() == 1 && problems[0].contains("has 2 entities"),
        "{problems:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

fn ts(rfc3339: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// Decimals compare equal across scales (`1.5 == 1.5000`); their text shows the scale.
fn assert_decimals(actual: &[Option<Decimal>], expected: &[&str]) {
    let actual: Vec<String> = actual
        .iter()
        .map(|d| d.map_or_else(|| "NULL".to_owned(), |d| d.to_string()))
        .collect();
    assert_eq!(actual, expected);
}

/// Inserts `written` through its `ActiveModel` (every column `Set`, except the `generated` ones
/// left to the database) and returns what `INSERT … RETURNING` gave back.
async fn insert<A>(
    db: &DatabaseConnection,
    written: <A::Entity as EntityTrait>::Model,
    generated: &[<A::Entity as EntityTrait>::Column],
) -> <A::Entity as EntityTrait>::Model
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    let mut active = written.into_active_model().reset_all();
    for column in generated {
        active.not_set(*column);
    }
    active
        .insert(db)
        .await
        .unwrap_or_else(|e| panic!("inserting into {}: {e}", A::Entity::default().table_name()))
}

/// The one row `E::find()` returns from `E`'s table (the test wrote exactly one).
async fn only_row<E: EntityTrait>(db: &DatabaseConnection) -> E::Model {
    let mut rows = E::find().all(db).await.unwrap();
    assert_eq!(
        rows.len(),
        1,
        "rows of {}: {rows:?}",
        E::default().table_name()
    );
    rows.pop().unwrap()
}

/// The rows the round trip writes, one per table (two instruments, two allocations), as read
/// back from the database.
struct Fixture {
    load: source_load_history::Model,
    version: model_version_registry::Model,
    etf: instrument_master::Model,
    bond: instrument_master::Model,
    scenario: scenario_definition::Model,
    extra_scenario: scenario_definition::Model,
    portfolio: portfolio_model::Model,
    allocations: Vec<portfolio_allocation::Model>,
    price: daily_price::Model,
    ret: daily_return::Model,
    run: simulation_run::Model,
    path: simulation_path::Model,
    summary: simulation_summary::Model,
}

/// Writes one row per table through SeaORM, asserting for each that `Entity::find()` reads back
/// exactly the written values (server-generated keys and `created_at` aside, which must be set).
async fn write_fixture(db: &DatabaseConnection) -> Fixture {
    // source_load_history
    let written = source_load_history::Model {
        load_id: 0,
        source_type: "CSV".to_owned(),
        source_name: "prices_2026_01.csv".to_owned(),
        load_status: LoadStatus::Partial,
        records_loaded: Some(250),
        records_failed: Some(3),
        error_message: Some("3 rows without close price".to_owned()),
        started_at: Some(ts("2026-01-05T09:00:00+09:00")),
        completed_at: Some(ts("2026-01-05T09:01:30+09:00")),
        loaded_by: Some("loader".to_owned()),
        created_at: None,
    };
    use source_load_history::Column as L;
    let inserted =
        insert::<source_load_history::ActiveModel>(db, written.clone(), &[L::LoadId, L::CreatedAt])
            .await;
    let load = only_row::<SourceLoadHistory>(db).await;
    assert_eq!(load, inserted);
    assert!(load.load_id > 0 && load.created_at.is_some(), "{load:?}");
    assert_eq!(
        load,
        source_load_history::Model {
            load_id: load.load_id,
            created_at: load.created_at,
            ..written
        }
    );

    // model_version_registry (the seed '1.0.0' is there too)
    let written = model_version_registry::Model {
        version_id: "9.9.9-test".to_owned(),
        version_name: "Round trip".to_owned(),
        description: None,
        release_date: date(2026, 2, 28),
        is_active: Some(false),
        created_at: Some(ts("2026-02-28T12:00:00Z")),
        updated_at: Some(ts("2026-02-28T12:00:00Z")),
    };
    let inserted = insert::<model_version_registry::ActiveModel>(db, written.clone(), &[]).await;
    let version = ModelVersionRegistry::find_by_id("9.9.9-test".to_owned())
        .one(db)
        .await
        .unwrap()
        .expect("inserted version");
    assert_eq!(version, inserted);
    assert_eq!(version, written);

    // instrument_master (two: allocations and relations need more than one)
    use instrument_master::Column as I;
    let written_etf = instrument_master::Model {
        instrument_id: 0,
        instrument_type: InstrumentType::Etf,
        ticker: "069500".to_owned(),
        exchange: "KRX".to_owned(),
        name_ko: Some("KODEX 200".to_owned()),
        name_en: None,
        currency: "KRW".to_owned(),
        sector: Some("Equity Index".to_owned()),
        is_active: Some(true),
        data_source: Some("KRX".to_owned()),
        created_at: None,
        updated_at: Some(ts("2025-12-31T15:00:00Z")),
    };
    let written_bond = instrument_master::Model {
        instrument_type: InstrumentType::Bond,
        ticker: "KTB10Y".to_owned(),
        exchange: "OTC".to_owned(),
        name_ko: None,
        name_en: Some("Korea Treasury 10Y".to_owned()),
        currency: "USD".to_owned(),
        sector: None,
        is_active: Some(false),
        data_source: None,
        ..written_etf.clone()
    };
    let generated = [I::InstrumentId, I::CreatedAt];
    let inserted_etf =
        insert::<instrument_master::ActiveModel>(db, written_etf.clone(), &generated).await;
    let inserted_bond =
        insert::<instrument_master::ActiveModel>(db, written_bond.clone(), &generated).await;
    let instruments = InstrumentMaster::find()
        .order_by_asc(I::InstrumentId)
        .all(db)
        .await
        .unwrap();
    assert_eq!(instruments, [inserted_etf, inserted_bond]);
    let [etf, bond] = <[_; 2]>::try_from(instruments).unwrap();
    for (read, written) in [(&etf, written_etf), (&bond, written_bond)] {
        assert!(
            read.instrument_id > 0 && read.created_at.is_some(),
            "{read:?}"
        );
        let expected = instrument_master::Model {
            instrument_id: read.instrument_id,
            created_at: read.created_at,
            ..written
        };
        assert_eq!(*read, expected);
    }
    assert_ne!(etf.instrument_id, bond.instrument_id);

    // scenario_definition: the seeded MIN_VOL reads back typed, and a new one round-trips
    let scenario = ScenarioDefinition::find_by_id("MIN_VOL".to_owned())
        .one(db)
        .await
        .unwrap()
        .expect("seeded MIN_VOL");
    assert_eq!(scenario.name_en.as_deref(), Some("Minimum Volatility"));
    assert_eq!(scenario.risk_level, Some(RiskLevel::Low));
    assert_eq!(scenario.display_order, Some(1));
    assert_eq!(scenario.is_active, Some(true));
    assert!(scenario.disclaimer.contains("투자 권유가 아닙니다"));
    let written = scenario_definition::Model {
        scenario_id: "ROUND_TRIP".to_owned(),
        name_ko: "왕복".to_owned(),
        name_en: None,
        description: Some("written by tests/it/entities.rs".to_owned()),
        objective: None,
        target_investor: Some("nobody".to_owned()),
        risk_level: Some(RiskLevel::Medium),
        disclaimer: "교육 목적".to_owned(),
        is_active: Some(false),
        display_order: Some(-7),
        created_at: Some(ts("2026-03-01T00:00:00Z")),
        updated_at: Some(ts("2026-03-02T00:00:00Z")),
    };
    let inserted = insert::<scenario_definition::ActiveModel>(db, written.clone(), &[]).await;
    let extra_scenario = ScenarioDefinition::find()
        .filter(scenario_definition::Column::ScenarioId.eq("ROUND_TRIP"))
        .one(db)
        .await
        .unwrap()
        .expect("inserted scenario");
    assert_eq!(extra_scenario, inserted);
    assert_eq!(extra_scenario, written);

    // portfolio_model
    use portfolio_model::Column as P;
    let written = portfolio_model::Model {
        portfolio_id: 0,
        scenario_id: "MIN_VOL".to_owned(),
        portfolio_name: "최소변동성 v1".to_owned(),
        effective_date: date(2026, 1, 1),
        expiry_date: None,
        rebalance_freq: Some(RebalanceFreq::Quarterly),
        engine_version: Some("1.0.0".to_owned()),
        created_at: None,
    };
    let inserted = insert::<portfolio_model::ActiveModel>(
        db,
        written.clone(),
        &[P::PortfolioId, P::CreatedAt],
    )
    .await;
    let portfolio = only_row::<PortfolioModel>(db).await;
    assert_eq!(portfolio, inserted);
    assert!(portfolio.created_at.is_some());
    assert_eq!(
        portfolio,
        portfolio_model::Model {
            portfolio_id: portfolio.portfolio_id,
            created_at: portfolio.created_at,
            ..written
        }
    );

    // portfolio_allocation: 0.6 + 0.4 = 1 (the deferred weight-sum trigger accepts it)
    use portfolio_allocation::Column as A;
    let mut allocations = Vec::new();
    for (instrument, weight, class) in [
        (&etf, "0.6", AssetClass::Equity),
        (&bond, "0.4", AssetClass::Bond),
    ] {
        let written = portfolio_allocation::Model {
            allocation_id: 0,
            portfolio_id: portfolio.portfolio_id,
            instrument_id: instrument.instrument_id,
            weight: dec(weight),
            asset_class: Some(class),
            created_at: None,
        };
        let generated = [A::AllocationId, A::CreatedAt];
        let inserted =
            insert::<portfolio_allocation::ActiveModel>(db, written.clone(), &generated).await;
        let read = PortfolioAllocation::find_by_id(inserted.allocation_id)
            .one(db)
            .await
            .unwrap()
            .expect("inserted allocation");
        assert_eq!(read, inserted);
        assert_eq!(
            read,
            portfolio_allocation::Model {
                allocation_id: read.allocation_id,
                created_at: read.created_at,
                ..written
            }
        );
        allocations.push(read);
    }
    assert_decimals(
        &allocations
            .iter()
            .map(|a| Some(a.weight))
            .collect::<Vec<_>>(),
        &["0.6000", "0.4000"],
    );

    // daily_price (partitioned; price_id from its sequence)
    use daily_price::Column as DP;
    let written = daily_price::Model {
        price_id: 0,
        instrument_id: etf.instrument_id,
        trade_date: date(2026, 1, 5),
        open_price: Some(dec("35100")),
        high_price: Some(dec("35550.5")),
        low_price: None,
        close_price: dec("35420.25"),
        adj_close_price: Some(dec("35420.1234")),
        volume: Some(9_876_543_210),
        load_id: Some(load.load_id),
        created_at: None,
    };
    let inserted =
        insert::<daily_price::ActiveModel>(db, written.clone(), &[DP::PriceId, DP::CreatedAt])
            .await;
    let price = only_row::<DailyPrice>(db).await;
    assert_eq!(price, inserted);
    assert!(
        price.price_id > 0 && price.created_at.is_some(),
        "{price:?}"
    );
    assert_eq!(
        price,
        daily_price::Model {
            price_id: price.price_id,
            created_at: price.created_at,
            ..written
        }
    );
    assert_decimals(
        &[
            price.open_price,
            price.high_price,
            price.low_price,
            Some(price.close_price),
            price.adj_close_price,
        ],
        &[
            "35100.0000",
            "35550.5000",
            "NULL",
            "35420.2500",
            "35420.1234",
        ],
    );

    // daily_return (partitioned; return_id from its sequence)
    use daily_return::Column as DR;
    let written = daily_return::Model {
        return_id: 0,
        instrument_id: etf.instrument_id,
        trade_date: date(2026, 1, 5),
        daily_return: dec("-0.0123"),
        log_return: Some(dec("-0.01237624")),
        data_quality: Some(DataQuality::Imputed),
        engine_version: Some("1.0.0".to_owned()),
        created_at: None,
    };
    let inserted =
        insert::<daily_return::ActiveModel>(db, written.clone(), &[DR::ReturnId, DR::CreatedAt])
            .await;
    let ret = only_row::<DailyReturn>(db).await;
    assert_eq!(ret, inserted);
    assert!(ret.return_id > 0 && ret.created_at.is_some(), "{ret:?}");
    assert_eq!(
        ret,
        daily_return::Model {
            return_id: ret.return_id,
            created_at: ret.created_at,
            ..written
        }
    );
    assert_decimals(
        &[Some(ret.daily_return), ret.log_return],
        &["-0.01230000", "-0.01237624"],
    );

    // simulation_run
    use simulation_run::Column as R;
    let params = json!({
        "scenario_id": "MIN_VOL",
        "initial_amount": "10000000.00",
        "rebalance": {"freq": "QUARTERLY", "bands": [1, 2, 3]},
        "note": null,
        "flag": true,
    });
    let written = simulation_run::Model {
        run_id: 0,
        request_hash: "ab".repeat(32),
        scenario_id: Some("MIN_VOL".to_owned()),
        portfolio_id: Some(portfolio.portfolio_id),
        user_id: Some(42),
        start_date: date(2026, 1, 2),
        end_date: date(2026, 1, 30),
        initial_amount: dec("10000000"),
        rebalance_freq: Some(RebalanceFreq::Monthly),
        max_loss_limit_pct: Some(dec("-15.5")),
        request_params: Some(params),
        engine_version: "1.0.0".to_owned(),
        run_status: Some(RunStatus::Failed),
        error_message: None,
        created_at: None,
        expires_at: Some(ts("2026-02-01T00:00:00+09:00")),
    };
    let inserted =
        insert::<simulation_run::ActiveModel>(db, written.clone(), &[R::RunId, R::CreatedAt]).await;
    let run = only_row::<SimulationRun>(db).await;
    assert_eq!(run, inserted);
    assert!(run.run_id > 0 && run.created_at.is_some(), "{run:?}");
    assert_eq!(
        run,
        simulation_run::Model {
            run_id: run.run_id,
            created_at: run.created_at,
            ..written
        }
    );
    assert_decimals(
        &[Some(run.initial_amount), run.max_loss_limit_pct],
        &["10000000.00", "-15.50"],
    );

    // simulation_run_instrument (a composite key, nothing generated)
    let written = simulation_run_instrument::Model {
        run_id: run.run_id,
        instrument_id: etf.instrument_id,
    };
    let inserted = insert::<simulation_run_instrument::ActiveModel>(db, written.clone(), &[]).await;
    assert_eq!(inserted, written);
    assert_eq!(only_row::<SimulationRunInstrument>(db).await, written);

    // simulation_path (partitioned; path_id from its sequence)
    use simulation_path::Column as SP;
    let written = simulation_path::Model {
        path_id: 0,
        run_id: run.run_id,
        path_date: date(2026, 1, 2),
        nav: dec("10000000"),
        daily_return: Some(dec("0.0001")),
        cumulative_return: Some(dec("0.00012345")),
        drawdown: Some(dec("-0.5")),
        high_water_mark: None,
        created_at: None,
    };
    let inserted =
        insert::<simulation_path::ActiveModel>(db, written.clone(), &[SP::PathId, SP::CreatedAt])
            .await;
    let path = only_row::<SimulationPath>(db).await;
    assert_eq!(path, inserted);
    assert!(path.path_id > 0 && path.created_at.is_some(), "{path:?}");
    assert_eq!(
        path,
        simulation_path::Model {
            path_id: path.path_id,
            created_at: path.created_at,
            ..written
        }
    );
    assert_decimals(
        &[
            Some(path.nav),
            path.daily_return,
            path.cumulative_return,
            path.drawdown,
            path.high_water_mark,
        ],
        &[
            "10000000.0000",
            "0.00010000",
            "0.00012345",
            "-0.50000000",
            "NULL",
        ],
    );

    // simulation_summary
    use simulation_summary::Column as SS;
    let written = simulation_summary::Model {
        summary_id: 0,
        run_id: run.run_id,
        max_drawdown: dec("12.3456"),
        max_recovery_days: Some(87),
        worst_1m_return: Some(dec("-4.5")),
        worst_3m_return: None,
        volatility: Some(dec("9.87")),
        total_return: dec("123456.7891"),
        cagr: Some(dec("5")),
        sharpe_ratio: Some(dec("0.8123")),
        sortino_ratio: Some(dec("-1.25")),
        final_value: Some(dec("11234567.89")),
        trading_days: Some(20),
        rebalance_count: Some(1),
        created_at: None,
    };
    let inserted = insert::<simulation_summary::ActiveModel>(
        db,
        written.clone(),
        &[SS::SummaryId, SS::CreatedAt],
    )
    .await;
    let summary = only_row::<SimulationSummary>(db).await;
    assert_eq!(summary, inserted);
    assert!(
        summary.summary_id > 0 && summary.created_at.is_some(),
        "{summary:?}"
    );
    assert_eq!(
        summary,
        simulation_summary::Model {
            summary_id: summary.summary_id,
            created_at: summary.created_at,
            ..written
        }
    );
    assert_decimals(
        &[
            Some(summary.max_drawdown),
            summary.worst_1m_return,
            summary.volatility,
            Some(summary.total_return),
            summary.cagr,
            summary.final_value,
        ],
        &[
            "12.3456",
            "-4.5000",
            "9.8700",
            "123456.7891",
            "5.0000",
            "11234567.89",
        ],
    );

    Fixture {
        load,
        version,
        etf,
        bond,
        scenario,
        extra_scenario,
        portfolio,
        allocations,
        price,
        ret,
        run,
        path,
        summary,
    }
}

#[tokio::test]
async fn every_entity_round_trips_a_row_through_seaorm() {
    let t = TestDatabase::migrated().await;
    let db = t.conn();
    let f = write_fixture(db).await;

    // The enums are stored as their documented strings, not as Rust names or ordinals.
    let stored = strings(
        db,
        &format!(
            "SELECT concat_ws(' ',
               (SELECT load_status FROM source_load_history WHERE load_id = {load}),
               (SELECT instrument_type FROM instrument_master WHERE instrument_id = {etf}),
               (SELECT risk_level FROM scenario_definition WHERE scenario_id = 'ROUND_TRIP'),
               (SELECT rebalance_freq FROM portfolio_model WHERE portfolio_id = {portfolio}),
               (SELECT asset_class FROM portfolio_allocation WHERE allocation_id = {alloc}),
               (SELECT run_status FROM simulation_run WHERE run_id = {run}),
               (SELECT rebalance_freq FROM simulation_run WHERE run_id = {run}),
               (SELECT data_quality FROM daily_return WHERE return_id = {ret}))",
            load = f.load.load_id,
            etf = f.etf.instrument_id,
            portfolio = f.portfolio.portfolio_id,
            alloc = f.allocations[1].allocation_id,
            run = f.run.run_id,
            ret = f.ret.return_id,
        ),
    )
    .await;
    assert_eq!(
        stored,
        ["PARTIAL ETF MEDIUM QUARTERLY BOND FAILED MONTHLY IMPUTED"]
    );

    // JSONB went in as JSON (not as a string) and comes back as the same value.
    let json_type = strings(
        db,
        &format!(
            "SELECT jsonb_typeof(request_params) || ' '
                    || (request_params #>> '{{rebalance,bands,2}}')
               FROM simulation_run WHERE run_id = {}",
            f.run.run_id
        ),
    )
    .await;
    assert_eq!(json_type, ["object 3"]);
    assert_eq!(
        f.run
            .request_params
            .as_ref()
            .and_then(|p| p.pointer("/rebalance/freq")),
        Some(&json!("QUARTERLY"))
    );

    // Dates and timestamps are the written instants.
    assert_eq!(f.price.trade_date, date(2026, 1, 5));
    assert_eq!(f.path.path_date, date(2026, 1, 2));
    assert_eq!(f.version.release_date, date(2026, 2, 28));
    assert_eq!(
        f.load
            .completed_at
            .map(|t| t.with_timezone(&Utc).to_rfc3339()),
        Some("2026-01-05T00:01:30+00:00".to_owned())
    );
    assert_eq!(f.extra_scenario.display_order, Some(-7));
    assert_eq!(f.summary.max_recovery_days, Some(87));
    assert_eq!(f.price.volume, Some(9_876_543_210));
    assert_eq!(f.bond.currency, "USD");
    assert_eq!(f.scenario.scenario_id, "MIN_VOL");
}

#[tokio::test]
async fn before_save_stamps_instrument_updated_at_on_update() {
    let t = TestDatabase::migrated().await;
    let db = t.conn();
    let long_ago = ts("2020-01-01T00:00:00Z");

    // Insert: a given updated_at is kept; an unset one is stamped by the hook, not left NULL.
    let given = instrument_master::ActiveModel {
        instrument_type: Set(InstrumentType::Stock),
        ticker: Set("005930".to_owned()),
        exchange: Set("KRX".to_owned()),
        currency: Set("KRW".to_owned()),
        updated_at: Set(Some(long_ago)),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    assert_eq!(given.updated_at, Some(long_ago));

    let before = Utc::now();
    let unset = instrument_master::ActiveModel {
        instrument_type: Set(InstrumentType::Index),
        ticker: Set("KOSPI".to_owned()),
        exchange: Set("KRX".to_owned()),
        currency: Set("KRW".to_owned()),
        ..Default::default()
    };
    assert!(unset.updated_at.is_not_set());
    let unset = unset.insert(db).await.unwrap();
    let stamped = unset.updated_at.expect("stamped on insert");
    assert!(
        stamped >= before - chrono::Duration::seconds(1),
        "{stamped}"
    );

    // Update of another column: the hook moves updated_at to now.
    let before = Utc::now();
    let mut active = given.clone().into_active_model();
    active.name_en = Set(Some("Samsung Electronics".to_owned()));
    let updated = active.update(db).await.unwrap();
    let read = InstrumentMaster::find_by_id(given.instrument_id)
        .one(db)
        .await
        .unwrap()
        .expect("instrument");
    assert_eq!(read, updated);
    assert_eq!(read.name_en.as_deref(), Some("Samsung Electronics"));
    let after_update = read.updated_at.expect("updated_at");
    assert!(after_update > long_ago, "{after_update}");
    // Stamped by this update, from the client clock (microsecond rounding allowed).
    assert!(
        after_update >= before - chrono::Duration::milliseconds(1),
        "{after_update} < {before}"
    );
    assert!(
        after_update <= Utc::now() + chrono::Duration::seconds(1),
        "{after_update}"
    );
    // The other columns are untouched.
    assert_eq!(
        read,
        instrument_master::Model {
            name_en: Some("Samsung Electronics".to_owned()),
            updated_at: read.updated_at,
            ..given
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Relations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn relations_navigate_between_the_written_rows() {
    let t = TestDatabase::migrated().await;
    let db = t.conn();
    let f = write_fixture(db).await;
    // Decoys that a wrong join would pick up: another portfolio, run, path day and price.
    let other_portfolio = portfolio_model::ActiveModel {
        scenario_id: Set("GROWTH".to_owned()),
        portfolio_name: Set("성장형 v1".to_owned()),
        effective_date: Set(date(2026, 1, 1)),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let other_run = simulation_run::ActiveModel {
        request_hash: Set("cd".repeat(32)),
        scenario_id: Set(Some("GROWTH".to_owned())),
        start_date: Set(date(2026, 1, 2)),
        end_date: Set(date(2026, 1, 3)),
        initial_amount: Set(dec("1")),
        engine_version: Set("1.0.0".to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    simulation_path::ActiveModel {
        run_id: Set(other_run.run_id),
        path_date: Set(date(2026, 1, 2)),
        nav: Set(dec("1")),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let bond_price = daily_price::ActiveModel {
        instrument_id: Set(f.bond.instrument_id),
        trade_date: Set(date(2026, 1, 5)),
        close_price: Set(dec("98.5")),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();

    // scenario → portfolio models
    let portfolios = f
        .scenario
        .find_related(PortfolioModel)
        .all(db)
        .await
        .unwrap();
    assert_eq!(portfolios, slice::from_ref(&f.portfolio));
    let with_portfolios = ScenarioDefinition::find()
        .find_with_related(PortfolioModel)
        .order_by_asc(scenario_definition::Column::ScenarioId)
        .all(db)
        .await
        .unwrap();
    let summary: Vec<(String, Vec<i64>)> = with_portfolios
        .iter()
        .map(|(s, ps)| {
            (
                s.scenario_id.clone(),
                ps.iter().map(|p| p.portfolio_id).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("DEFENSIVE".to_owned(), vec![]),
            ("GROWTH".to_owned(), vec![other_portfolio.portfolio_id]),
            ("MIN_VOL".to_owned(), vec![f.portfolio.portfolio_id]),
            ("ROUND_TRIP".to_owned(), vec![]),
        ]
    );
    let back = f
        .portfolio
        .find_related(ScenarioDefinition)
        .one(db)
        .await
        .unwrap();
    assert_eq!(back, Some(f.scenario.clone()));

    // portfolio model → allocations → instrument
    let allocations = f
        .portfolio
        .find_related(PortfolioAllocation)
        .order_by_asc(portfolio_allocation::Column::AllocationId)
        .all(db)
        .await
        .unwrap();
    assert_eq!(allocations, f.allocations);
    let mut held = Vec::new();
    for allocation in &allocations {
        let instrument = allocation
            .find_related(InstrumentMaster)
            .one(db)
            .await
            .unwrap();
        held.push(instrument.expect("allocation's instrument"));
    }
    assert_eq!(held, [f.etf.clone(), f.bond.clone()]);
    let with_instruments = PortfolioAllocation::find()
        .find_also_related(InstrumentMaster)
        .order_by_asc(portfolio_allocation::Column::AllocationId)
        .all(db)
        .await
        .unwrap();
    let tickers: Vec<(String, Option<String>)> = with_instruments
        .into_iter()
        .map(|(a, i)| (a.weight.to_string(), i.map(|i| i.ticker)))
        .collect();
    assert_eq!(
        tickers,
        [
            ("0.6000".to_owned(), Some("069500".to_owned())),
            ("0.4000".to_owned(), Some("KTB10Y".to_owned())),
        ]
    );
    // …and the many-to-many shortcut through portfolio_allocation, both ways.
    let instruments = f
        .portfolio
        .find_related(InstrumentMaster)
        .order_by_asc(instrument_master::Column::InstrumentId)
        .all(db)
        .await
        .unwrap();
    assert_eq!(instruments, [f.etf.clone(), f.bond.clone()]);
    let holders = f.bond.find_related(PortfolioModel).all(db).await.unwrap();
    assert_eq!(holders, slice::from_ref(&f.portfolio));
    assert!(
        other_portfolio
            .find_related(InstrumentMaster)
            .all(db)
            .await
            .unwrap()
            .is_empty()
    );

    // run → path, run → summary (and back)
    let path = f.run.find_related(SimulationPath).all(db).await.unwrap();
    assert_eq!(path, slice::from_ref(&f.path));
    let summary = f.run.find_related(SimulationSummary).one(db).await.unwrap();
    assert_eq!(summary, Some(f.summary.clone()));
    assert_eq!(
        other_run
            .find_related(SimulationSummary)
            .one(db)
            .await
            .unwrap(),
        None
    );
    let runs = SimulationRun::find()
        .find_also_related(SimulationSummary)
        .order_by_asc(simulation_run::Column::RunId)
        .all(db)
        .await
        .unwrap();
    assert_eq!(
        runs,
        [
            (f.run.clone(), Some(f.summary.clone())),
            (other_run.clone(), None),
        ]
    );
    let run_of_summary = f.summary.find_related(SimulationRun).one(db).await.unwrap();
    assert_eq!(run_of_summary, Some(f.run.clone()));
    let run_of_portfolio = f
        .portfolio
        .find_related(SimulationRun)
        .all(db)
        .await
        .unwrap();
    assert_eq!(run_of_portfolio, slice::from_ref(&f.run));

    // instrument → prices (and returns), load → prices
    let etf_prices = f.etf.find_related(DailyPrice).all(db).await.unwrap();
    assert_eq!(etf_prices, slice::from_ref(&f.price));
    let bond_prices = f.bond.find_related(DailyPrice).all(db).await.unwrap();
    assert_eq!(bond_prices, slice::from_ref(&bond_price));
    let etf_returns = f.etf.find_related(DailyReturn).all(db).await.unwrap();
    assert_eq!(etf_returns, slice::from_ref(&f.ret));
    let loaded = f.load.find_related(DailyPrice).all(db).await.unwrap();
    assert_eq!(loaded, slice::from_ref(&f.price));
    let load_of_price = f
        .price
        .find_related(SourceLoadHistory)
        .one(db)
        .await
        .unwrap();
    assert_eq!(load_of_price, Some(f.load.clone()));
    assert_eq!(
        bond_price
            .find_related(SourceLoadHistory)
            .one(db)
            .await
            .unwrap(),
        None
    );
}
