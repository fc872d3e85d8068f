//! The schema's coded values (`MONTHLY`, `SUCCESS`, `ETF`, …) on the command line: parsed from
//! arguments in any case, printed as the schema spells them.

use sea_orm::ActiveEnum;

/// Parses a schema code (`MONTHLY`, `equity`, …) into its enum, ignoring case.
pub fn parse_code<E: ActiveEnum<Value = String>>(text: &str) -> Result<E, String> {
    E::try_from_value(&text.trim().to_ascii_uppercase()).map_err(|_| {
        let names: Vec<String> = E::values();
        format!("'{text}' is not one of {}", names.join(", "))
    })
}

/// The schema code of an optional enum value, or `-`.
pub fn code<E: ActiveEnum<Value = String>>(value: Option<E>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_value())
}
