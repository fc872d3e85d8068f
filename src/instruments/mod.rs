//! Instrument master: upsert by `(instrument_type, ticker, exchange)`, CSV import, look-up by
//! ticker, and the seed universe of the original project.
//!
//! An upsert only fills in what it is given: an optional field left `None` (an absent column or
//! an empty cell in a CSV) keeps the stored value, or takes the column default on insert. A row
//! whose values would not change is not written at all (its `updated_at` stays), which makes
//! [`seed`] and re-imports idempotent.

use std::collections::HashMap;
use std::path::Path;

use entity::enums::InstrumentType;
use entity::instrument_master::{Column, Entity, Model};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, Statement, TransactionSession, TransactionTrait,
};

use crate::csv_header::Header;
use crate::csv_lines::{self, Line, Lines};
pub use crate::error::InstrumentKey;
use crate::error::{Error, IngestError, InstrumentError, Result};
use crate::load_history::{self, NewLoad, Outcome};
use crate::printable;

/// An instrument to create or update. `None` optional fields keep the stored value on update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInstrument {
    pub instrument_type: InstrumentType,
    /// At most 20 characters.
    pub ticker: String,
    /// e.g. KRX, NYSE, NASDAQ, INTERNAL; at most 20 characters.
    pub exchange: String,
    pub name_ko: Option<String>,
    pub name_en: Option<String>,
    /// Three upper-case letters (ISO 4217); the schema's default `KRW` on insert when `None`.
    pub currency: Option<String>,
    pub sector: Option<String>,
    /// `true` on insert when `None`.
    pub is_active: Option<bool>,
    pub data_source: Option<String>,
}

impl NewInstrument {
    /// An instrument with only its identity set.
    pub fn new(
        instrument_type: InstrumentType,
        ticker: impl Into<String>,
        exchange: impl Into<String>,
    ) -> Self {
        Self {
            instrument_type,
            ticker: ticker.into(),
            exchange: exchange.into(),
            name_ko: None,
            name_en: None,
            currency: None,
            sector: None,
            is_active: None,
            data_source: None,
        }
    }

    /// Why this instrument cannot be stored, if it cannot: empty identity, a value longer than
    /// its column or holding a control character, a currency that is not three upper-case
    /// letters. The reason is one line: values it quotes are escaped and cut short.
    pub fn problem(&self) -> Option<String> {
        let required = [
            ("ticker", &self.ticker, 20),
            ("exchange", &self.exchange, 20),
        ];
        for (field, value, max) in required {
            if value.trim().is_empty() {
                return Some(format!("{field} is empty"));
            }
            if let Some(problem) = text_problem(field, value, max) {
                return Some(problem);
            }
        }
        let optional = [
            ("name_ko", &self.name_ko, 200),
            ("name_en", &self.name_en, 200),
            ("sector", &self.sector, 100),
            ("data_source", &self.data_source, 50),
        ];
        for (field, value, max) in optional {
            if let Some(problem) = value.as_deref().and_then(|v| text_problem(field, v, max)) {
                return Some(problem);
            }
        }
        match self.currency.as_deref() {
            Some(c) if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) => Some(format!(
                "currency '{}' is not three upper-case letters",
                printable::field(c)
            )),
            _ => None,
        }
    }
}

/// Why `value` cannot be stored in column `field` of at most `max` characters, if it cannot.
/// A control character is refused: NUL cannot be stored at all, and an escape sequence in a
/// ticker or name would reach every terminal that lists instruments.
fn text_problem(field: &str, value: &str, max: usize) -> Option<String> {
    let quoted = || printable::field(value);
    if value.chars().count() > max {
        return Some(format!(
            "{field} '{}' is longer than {max} characters",
            quoted()
        ));
    }
    if printable::has_control(value) {
        return Some(format!("{field} '{}' holds a control character", quoted()));
    }
    None
}

/// What [`upsert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Upserted {
    Inserted,
    Updated,
    /// The stored row already had these values; nothing was written.
    Unchanged,
}

/// Optional fields are written as `COALESCE(given, stored)`, and only when that changes the row.
const UPSERT: &str = include_str!("upsert.sql");

/// Creates the instrument, or updates the one with the same `(instrument_type, ticker,
/// exchange)` with the fields given; returns the stored row and what happened.
///
/// # Errors
/// [`Error::InvalidInput`] when the instrument cannot be stored (see
/// [`NewInstrument::problem`]); database errors.
#[tracing::instrument(skip(db))]
pub async fn upsert<C: ConnectionTrait>(
    db: &C,
    instrument: &NewInstrument,
) -> Result<(Model, Upserted)> {
    if let Some(problem) = instrument.problem() {
        return Err(Error::invalid("instrument", problem));
    }
    let i = instrument;
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            UPSERT,
            [
                i.instrument_type.to_value().into(),
                i.ticker.clone().into(),
                i.exchange.clone().into(),
                i.name_ko.clone().into(),
                i.name_en.clone().into(),
                i.currency.clone().into(),
                i.sector.clone().into(),
                i.is_active.into(),
                i.data_source.clone().into(),
            ],
        ))
        .await?;
    match row {
        Some(row) => {
            let inserted: bool = row.try_get("", "inserted")?;
            let model = Model::from_query_result(&row, "")?;
            let what = if inserted {
                Upserted::Inserted
            } else {
                Upserted::Updated
            };
            Ok((model, what))
        }
        None => {
            let model = Entity::find()
                .filter(Column::InstrumentType.eq(i.instrument_type))
                .filter(Column::Ticker.eq(i.ticker.as_str()))
                .filter(Column::Exchange.eq(i.exchange.as_str()))
                .one(db)
                .await?
                .ok_or_else(|| Error::not_found("instrument", &i.ticker))?;
            Ok((model, Upserted::Unchanged))
        }
    }
}

/// What an import or seed did, and the load that recorded it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub load_id: i64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// Columns of an instrument CSV; the first three are required.
pub const CSV_COLUMNS: [&str; 9] = [
    "instrument_type",
    "ticker",
    "exchange",
    "name_ko",
    "name_en",
    "currency",
    "sector",
    "is_active",
    "data_source",
];

/// Upserts every instrument of a CSV file, all or nothing, and records the import in the load
/// history (source type `manual`, source name the file name).
///
/// The header is required; its columns are [`CSV_COLUMNS`] in any order, of which only
/// `instrument_type`, `ticker` and `exchange` are required. Empty optional cells keep stored
/// values. `is_active` is `true`/`false` (also `t`/`f`, `1`/`0`, `yes`/`no`). A record is one
/// line of at most [`MAX_LINE_BYTES`] bytes (see [`parse_csv`]).
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`IngestError::InvalidRow`] naming the first bad line
/// (unknown or missing column, unknown type, bad value, a key given twice, an unclosed quote, a
/// line over the limit) — nothing is written then; database errors (the import is rolled back
/// and its load recorded as FAILED).
#[tracing::instrument(skip(db))]
pub async fn import_csv<C>(db: &C, path: &Path) -> Result<ImportReport>
where
    C: ConnectionTrait + TransactionTrait,
{
    let rows = read_csv(path)?;
    let load = NewLoad {
        source_type: "manual".into(),
        source_name: load_history::file_source_name(path),
        loaded_by: None,
    };
    upsert_all(db, &load, &rows).await
}

/// The longest line of an instrument CSV, in bytes (line break excluded). A real row is well
/// under 2 KiB (its longest cells are two names of at most 200 characters); the limit leaves
/// room for quoting and padding while keeping what one line may hold in memory small.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The most characters of the file name an error quotes (a path is at most 4,096 bytes on
/// Linux; a longer source is a name no operator reads to the end).
const SOURCE_CHARS: usize = 4096;

fn read_csv(path: &Path) -> Result<Vec<NewInstrument>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    parse_csv(file, &path.display().to_string())
}

/// The instruments of an instrument CSV (the format [`import_csv`] reads) read from `input`;
/// `source` names it in errors.
///
/// The input is read line by line, each line one record (`crate::csv_lines`): fields may be
/// quoted (`""` inside quotes is a quote) but hold no line break. So a stray `"` spoils only
/// its own line, which is refused with its number, instead of running on to the end of the
/// input; a line longer than [`MAX_LINE_BYTES`] is refused without being held in memory; and
/// line numbers are the input's own, for LF and CRLF alike. Blank lines are skipped.
///
/// # Errors
/// As [`import_csv`], without the database errors. Every [`IngestError::InvalidRow`] reason is
/// one line: text it quotes from the input has its control characters escaped and is cut short.
pub fn parse_csv(input: impl std::io::Read, source: &str) -> Result<Vec<NewInstrument>> {
    // A file name is outside text as much as the file's contents.
    let source = &printable::bounded(source, SOURCE_CHARS);
    let bad = |line: u64, reason: String| {
        Error::Ingest(IngestError::InvalidRow {
            path: source.clone(),
            line,
            // Reasons quote the input, and go to terminals and the load history.
            reason: printable::bounded(&reason, printable::REASON_CHARS),
        })
    };
    let mut lines = Lines::new(std::io::BufReader::new(input), MAX_LINE_BYTES);
    let (mut bytes, mut record) = (Vec::new(), csv::StringRecord::new());
    // The first line is the header (no line at all: an empty header, which `Header::parse`
    // refuses as an empty file).
    if let Some((line, read)) = lines
        .next_line(&mut bytes)
        .map_err(|e| Error::io(source, e))?
    {
        split_line(&bytes, &read, &mut record).map_err(|reason| bad(line, reason))?;
    }
    let header = Header::parse(&record).map_err(|reason| bad(1, reason))?;
    if let Some(unknown) = header.unknown(&CSV_COLUMNS) {
        return Err(bad(
            1,
            format!("unknown column '{}'", printable::field(unknown)),
        ));
    }
    let column = |name: &str| header.find(name);
    let required = |name: &'static str| {
        column(name).ok_or_else(|| bad(1, format!("missing required column '{name}'")))
    };
    let (type_col, ticker_col, exchange_col) = (
        required("instrument_type")?,
        required("ticker")?,
        required("exchange")?,
    );
    let mut seen: HashMap<(InstrumentType, String, String), u64> = HashMap::new();
    let mut rows = Vec::new();
    while let Some((line, read)) = lines
        .next_line(&mut bytes)
        .map_err(|e| Error::io(source, e))?
    {
        // A blank line is no record (as CSV readers have it).
        if read == Line::Text && bytes.is_empty() {
            continue;
        }
        split_line(&bytes, &read, &mut record).map_err(|reason| bad(line, reason))?;
        if record.len() != header.len() {
            return Err(bad(
                line,
                format!("expected {} fields, found {}", header.len(), record.len()),
            ));
        }
        let cell = |i: usize| record.get(i).unwrap_or("").trim();
        let optional = |name: &str| {
            column(name)
                .map(cell)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let type_text = cell(type_col).to_ascii_uppercase();
        let instrument_type = InstrumentType::try_from_value(&type_text).map_err(|_| {
            bad(
                line,
                format!(
                    "unknown instrument_type '{}'",
                    printable::field(cell(type_col))
                ),
            )
        })?;
        let is_active = optional("is_active")
            .map(|v| {
                parse_bool(&v).ok_or_else(|| {
                    bad(
                        line,
                        format!("is_active '{}' is not true or false", printable::field(&v)),
                    )
                })
            })
            .transpose()?;
        let instrument = NewInstrument {
            name_ko: optional("name_ko"),
            name_en: optional("name_en"),
            currency: optional("currency"),
            sector: optional("sector"),
            is_active,
            data_source: optional("data_source"),
            ..NewInstrument::new(instrument_type, cell(ticker_col), cell(exchange_col))
        };
        if let Some(problem) = instrument.problem() {
            return Err(bad(line, problem));
        }
        let key = (
            instrument.instrument_type,
            instrument.ticker.clone(),
            instrument.exchange.clone(),
        );
        if let Some(first) = seen.insert(key, line) {
            return Err(bad(
                line,
                format!(
                    "{} {} on {} is already on line {first}",
                    type_text, instrument.ticker, instrument.exchange
                ),
            ));
        }
        rows.push(instrument);
    }
    Ok(rows)
}

/// The fields of the line just read into `bytes` (`read` says whether it was kept), split into
/// `record`; else why the line cannot be read.
fn split_line(bytes: &[u8], read: &Line, record: &mut csv::StringRecord) -> Result<(), String> {
    if let Line::TooLong(length) = read {
        return Err(format!(
            "the line has {length} bytes, more than the limit of {MAX_LINE_BYTES}"
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "the line is not valid UTF-8")?;
    csv_lines::split(text, record).map_err(str::to_owned)
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" => Some(true),
        "false" | "f" | "0" | "no" | "n" => Some(false),
        _ => None,
    }
}

/// Upserts `rows` in one transaction, recorded as load `load`.
async fn upsert_all<C>(db: &C, load: &NewLoad, rows: &[NewInstrument]) -> Result<ImportReport>
where
    C: ConnectionTrait + TransactionTrait,
{
    let load_id = load_history::start(db, load).await?.load_id;
    let written = async {
        let tx = db.begin().await?;
        let mut report = ImportReport {
            load_id,
            ..ImportReport::default()
        };
        for row in rows {
            match upsert(&tx, row).await?.1 {
                Upserted::Inserted => report.inserted += 1,
                Upserted::Updated => report.updated += 1,
                Upserted::Unchanged => report.unchanged += 1,
            }
        }
        tx.commit().await?;
        Ok::<_, Error>(report)
    }
    .await;
    let outcome = match &written {
        Ok(r) => Outcome::Success {
            records_loaded: r.inserted + r.updated + r.unchanged,
        },
        Err(e) => Outcome::Failed {
            records_loaded: 0,
            records_failed: rows.len() as u64,
            error: e.to_string(),
        },
    };
    // The import's own error matters more than a failure to record it.
    let recorded = load_history::finish(db, load_id, &outcome).await;
    let report = written?;
    recorded?;
    Ok(report)
}

/// The instrument universe of the original project: KRX ETFs (KRW), US ETFs (USD), indices and
/// FX rates, with their exchanges and names ([`crate::seed_data::INSTRUMENTS`]).
pub fn seed_universe() -> Vec<NewInstrument> {
    bundled(crate::seed_data::INSTRUMENTS, "data/seed/instruments.csv")
}

/// The bundled sample's US ETFs that the original universe lacks (what the demo registers;
/// [`crate::seed_data::DEMO_INSTRUMENTS`]).
pub fn demo_instruments() -> Vec<NewInstrument> {
    bundled(
        crate::seed_data::DEMO_INSTRUMENTS,
        "data/seed/demo_instruments.csv",
    )
}

/// The instruments of a file compiled into the crate; its tests parse every one, so a
/// malformed file is a build defect, not an input error.
fn bundled(text: &str, name: &str) -> Vec<NewInstrument> {
    parse_csv(text.as_bytes(), name)
        .unwrap_or_else(|e| panic!("the bundled instrument file is invalid: {e}"))
}

/// Upserts [`seed_universe`] (idempotent: a second run changes nothing) and records it in the
/// load history (source type `seed`).
///
/// # Errors
/// Database errors (the seed is rolled back and its load recorded as FAILED).
#[tracing::instrument(skip(db))]
pub async fn seed<C>(db: &C) -> Result<ImportReport>
where
    C: ConnectionTrait + TransactionTrait,
{
    let load = NewLoad {
        source_type: "seed".into(),
        source_name: "instrument universe".into(),
        loaded_by: Some("system".into()),
    };
    upsert_all(db, &load, &seed_universe()).await
}

/// The keys of every instrument, grouped by ticker (for resolving many tickers at once).
///
/// # Errors
/// Database errors.
#[tracing::instrument(skip(db))]
pub async fn keys_by_ticker<C: ConnectionTrait>(
    db: &C,
) -> Result<HashMap<String, Vec<InstrumentKey>>> {
    let mut by_ticker: HashMap<String, Vec<InstrumentKey>> = HashMap::new();
    for m in Entity::find()
        .order_by_asc(Column::InstrumentId)
        .all(db)
        .await?
    {
        by_ticker
            .entry(m.ticker.clone())
            .or_default()
            .push((&m).into());
    }
    Ok(by_ticker)
}

/// Which of one ticker's instruments a caller means.
#[derive(Debug, PartialEq, Eq)]
pub enum Choice<'a> {
    One(&'a InstrumentKey),
    /// No instrument (on the exchange given).
    Unknown,
    /// Several: the caller must narrow by exchange (or type).
    Ambiguous(Vec<&'a InstrumentKey>),
}

/// Picks from `candidates` (instruments of one ticker) the one on `exchange` and of
/// `instrument_type`, each when given.
pub fn choose<'a>(
    candidates: &'a [InstrumentKey],
    exchange: Option<&str>,
    instrument_type: Option<InstrumentType>,
) -> Choice<'a> {
    let matching: Vec<&InstrumentKey> = candidates
        .iter()
        .filter(|k| exchange.is_none_or(|e| k.exchange == e))
        .filter(|k| instrument_type.is_none_or(|t| k.instrument_type == t))
        .collect();
    match matching.as_slice() {
        [] => Choice::Unknown,
        [one] => Choice::One(one),
        _ => Choice::Ambiguous(matching),
    }
}

/// The instrument with this ticker (on `exchange`, when given).
///
/// # Errors
/// [`InstrumentError::UnknownInstrument`] when none matches; [`InstrumentError::AmbiguousTicker`] listing the
/// candidates when the ticker is on several exchanges (or of several types) and no exchange
/// narrows it to one; database errors.
#[tracing::instrument(skip(db))]
pub async fn find_by_ticker<C: ConnectionTrait>(
    db: &C,
    ticker: &str,
    exchange: Option<&str>,
) -> Result<Model> {
    let models = Entity::find()
        .filter(Column::Ticker.eq(ticker))
        .order_by_asc(Column::InstrumentId)
        .all(db)
        .await?;
    pick_by_ticker(ticker, exchange, models)
}

/// Every instrument listed under each of `tickers` (on any exchange), in id order: for
/// operations that apply to all listings of a ticker, such as computing its returns.
///
/// # Errors
/// [`InstrumentError::UnknownInstrument`] naming the
/// first ticker no instrument has; database errors.
#[tracing::instrument(skip(db))]
pub async fn find_all_by_tickers<C: ConnectionTrait>(
    db: &C,
    tickers: &[String],
) -> Result<Vec<Model>> {
    let found = Entity::find()
        .filter(Column::Ticker.is_in(tickers.iter().cloned()))
        .order_by_asc(Column::InstrumentId)
        .all(db)
        .await?;
    if let Some(missing) = tickers
        .iter()
        .find(|t| !found.iter().any(|m| &m.ticker == *t))
    {
        return Err(Error::Instrument(InstrumentError::UnknownInstrument {
            instrument: missing.clone(),
        }));
    }
    Ok(found)
}

/// Of `models` (any instruments already read), the one with `ticker` (on `exchange`, when
/// given): the decision [`find_by_ticker`] makes, for callers that read many at once.
///
/// # Errors
/// As [`find_by_ticker`], without the database errors.
pub fn pick_by_ticker(
    ticker: &str,
    exchange: Option<&str>,
    models: impl IntoIterator<Item = Model>,
) -> Result<Model> {
    let mut models: Vec<Model> = models.into_iter().filter(|m| m.ticker == ticker).collect();
    let keys: Vec<InstrumentKey> = models.iter().map(InstrumentKey::from).collect();
    match choose(&keys, exchange, None) {
        Choice::One(key) => {
            let id = key.instrument_id;
            let at = models
                .iter()
                .position(|m| m.instrument_id == id)
                .expect("the chosen key comes from these models");
            Ok(models.swap_remove(at))
        }
        Choice::Unknown => Err(Error::Instrument(InstrumentError::UnknownInstrument {
            instrument: match exchange {
                Some(e) => format!("{ticker} on {e}"),
                None => ticker.to_owned(),
            },
        })),
        Choice::Ambiguous(keys) => Err(Error::Instrument(InstrumentError::AmbiguousTicker {
            ticker: ticker.to_owned(),
            candidates: keys.into_iter().cloned().collect(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: i64, t: InstrumentType, exchange: &str) -> InstrumentKey {
        InstrumentKey {
            instrument_id: id,
            instrument_type: t,
            ticker: "X".into(),
            exchange: exchange.into(),
        }
    }

    #[test]
    fn choose_narrows_by_exchange_and_type() {
        use InstrumentType::{Etf, Index};
        let keys = [
            key(1, Etf, "NYSE"),
            key(2, Etf, "KRX"),
            key(3, Index, "KRX"),
        ];
        assert!(matches!(choose(&keys, None, None), Choice::Ambiguous(k) if k.len() == 3));
        assert_eq!(choose(&keys, Some("NYSE"), None), Choice::One(&keys[0]));
        assert!(matches!(choose(&keys, Some("KRX"), None), Choice::Ambiguous(k) if k.len() == 2));
        assert_eq!(
            choose(&keys, Some("KRX"), Some(Index)),
            Choice::One(&keys[2])
        );
        assert_eq!(choose(&keys, Some("LSE"), None), Choice::Unknown);
    }

    #[test]
    fn problems_name_the_field() {
        let ok = NewInstrument::new(InstrumentType::Etf, "SPY", "NYSE");
        assert_eq!(ok.problem(), None);
        let long = NewInstrument::new(InstrumentType::Etf, "X".repeat(21), "NYSE");
        assert!(long.problem().unwrap().starts_with("ticker"));
        let currency = NewInstrument {
            currency: Some("usd".into()),
            ..ok.clone()
        };
        assert!(currency.problem().unwrap().contains("currency"));
        let blank = NewInstrument::new(InstrumentType::Etf, "SPY", " ");
        assert_eq!(blank.problem().unwrap(), "exchange is empty");
    }

    #[test]
    fn the_demo_instruments_are_valid_us_etfs() {
        let extra = demo_instruments();
        let tickers: Vec<&str> = extra.iter().map(|i| i.ticker.as_str()).collect();
        assert_eq!(tickers, ["SHY", "BND"]);
        assert!(
            extra
                .iter()
                .all(|i| i.instrument_type == InstrumentType::Etf
                    && i.currency.as_deref() == Some("USD")
                    && i.problem().is_none())
        );
    }

    #[test]
    fn the_seed_universe_is_the_original_projects() {
        let seed = seed_universe();
        assert_eq!(seed.len(), 25);
        assert!(seed.iter().all(|i| i.problem().is_none()));
        let krx_etfs = seed
            .iter()
            .filter(|i| i.exchange == "KRX" && i.instrument_type == InstrumentType::Etf)
            .count();
        assert_eq!(krx_etfs, 10);
        let fx: Vec<_> = seed
            .iter()
            .filter(|i| i.instrument_type == InstrumentType::Fx)
            .map(|i| {
                (
                    i.ticker.as_str(),
                    i.exchange.as_str(),
                    i.currency.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            fx,
            [
                ("USDKRW", "INTERNAL", Some("KRW")),
                ("EURKRW", "INTERNAL", Some("KRW")),
                ("JPYKRW", "INTERNAL", Some("KRW"))
            ]
        );
    }

    #[test]
    fn booleans_in_several_spellings() {
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}
