//! The schema as the catalog has it: the tables, a comparable snapshot of everything in
//! `public`, and the months the migrated partitions cover.

use sea_orm::DatabaseConnection;

use super::strings;

/// The eleven tables of the Foresto Phase 1 schema (partitioned parents, not partitions).
pub const TABLES: [&str; 11] = [
    "model_version_registry",
    "source_load_history",
    "instrument_master",
    "daily_price",
    "daily_return",
    "scenario_definition",
    "portfolio_model",
    "portfolio_allocation",
    "simulation_run",
    "simulation_path",
    "simulation_summary",
];

/// Everything that makes up the schema of `public`, one line per object, sorted: columns with
/// types, nullability and defaults; constraints; indexes; triggers; functions with their bodies;
/// partitions with their bounds. Two databases with equal snapshots have the same schema.
pub async fn schema_snapshot(db: &DatabaseConnection) -> Vec<String> {
    let mut lines = strings(
        db,
        r#"
        SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
               || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
               || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
          FROM pg_attribute a
          JOIN pg_class c ON c.oid = a.attrelid
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
           AND a.attnum > 0 AND NOT a.attisdropped AND c.relname <> 'seaql_migrations'
        UNION ALL
        SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
          -- 'n': PostgreSQL 18 catalogues NOT NULL as constraints too; the column lines say it.
          FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype NOT IN ('t', 'n')
           AND conrelid <> 'seaql_migrations'::regclass
        UNION ALL
        SELECT 'index ' || pg_get_indexdef(i.indexrelid)
          FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
         WHERE c.relnamespace = 'public'::regnamespace AND c.relname <> 'seaql_migrations'
        UNION ALL
        SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
        UNION ALL
        SELECT 'function ' || pg_get_functiondef(oid) FROM pg_proc
         WHERE pronamespace = 'public'::regnamespace
        UNION ALL
        SELECT 'partition ' || inhparent::regclass || ' ' || inhrelid::regclass || ' '
               || pg_get_expr(c.relpartbound, c.oid)
          FROM pg_inherits JOIN pg_class c ON c.oid = inhrelid WHERE c.relkind IN ('r', 'p')
        UNION ALL
        SELECT 'sequence ' || sequencename FROM pg_sequences WHERE schemaname = 'public'
        "#,
    )
    .await;
    lines.sort();
    lines
}

/// Asserts two snapshots are equal, showing only the lines that differ.
pub fn assert_same_schema(left: &[String], right: &[String]) {
    let only_left: Vec<_> = left.iter().filter(|l| !right.contains(l)).collect();
    let only_right: Vec<_> = right.iter().filter(|l| !left.contains(l)).collect();
    assert!(
        only_left.is_empty() && only_right.is_empty(),
        "schemas differ\nonly before: {only_left:#?}\nonly after: {only_right:#?}"
    );
}

/// Months from 2020-01 through the current month + `ahead`, as `YYYYMM`.
pub fn months_through_now_plus(ahead: u32) -> Vec<String> {
    use chrono::{Datelike, Months, NaiveDate};
    let today = chrono::Utc::now().date_naive();
    let last =
        NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap() + Months::new(ahead);
    let mut month = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    let mut out = Vec::new();
    while month <= last {
        out.push(month.format("%Y%m").to_string());
        month = month + Months::new(1);
    }
    out
}
