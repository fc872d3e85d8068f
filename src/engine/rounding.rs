//! Conversion of computed figures to the decimals stored in `simulation_summary` and
//! `simulation_path`, at each column's precision and scale.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

use super::{EngineError, PathPoint, Summary};

/// A `numeric(precision, scale)` column.
#[derive(Debug, Clone, Copy)]
struct Numeric {
    precision: u32,
    scale: u32,
}

/// Summary percentages and ratios.
const PERCENT: Numeric = Numeric {
    precision: 8,
    scale: 4,
};
const TOTAL_RETURN: Numeric = Numeric {
    precision: 10,
    scale: 4,
};
const MONEY: Numeric = Numeric {
    precision: 18,
    scale: 2,
};
const NAV: Numeric = Numeric {
    precision: 18,
    scale: 4,
};
/// Path returns and drawdown, as fractions.
const FRACTION: Numeric = Numeric {
    precision: 12,
    scale: 8,
};

impl Numeric {
    /// `value` rounded half away from zero to the column's scale, or `None` when it is not
    /// finite or its rounded value has more integer digits than the column holds.
    ///
    /// The f64 is read as its shortest round-tripping decimal (what it prints as), so 0.00005
    /// rounds up to 0.0001 as it reads, rather than down because its binary value is a hair
    /// below the midpoint.
    fn fit(self, value: f64) -> Option<Decimal> {
        let integer_digits = self.precision - self.scale;
        // Also screens out magnitudes `Decimal` could not parse.
        if !value.is_finite() || value.abs() >= 10f64.powi(integer_digits as i32) {
            return None;
        }
        // Digits beyond `Decimal`'s 28-place scale (only for values far below the column's
        // resolution) are rounded away by the parser.
        let exact = Decimal::from_str(&value.to_string()).ok()?;
        let mut rounded =
            exact.round_dp_with_strategy(self.scale, RoundingStrategy::MidpointAwayFromZero);
        if rounded.abs() >= Decimal::from(10_i64.pow(integer_digits)) {
            return None;
        }
        // A small negative value rounds to a "−0", which should not be stored or displayed.
        if rounded.is_zero() {
            rounded.set_sign_positive(true);
        }
        rounded.rescale(self.scale);
        Some(rounded)
    }

    fn nullable(self, value: Option<f64>) -> Option<Decimal> {
        value.and_then(|v| self.fit(v))
    }

    fn required(self, figure: &'static str, value: f64) -> Result<Decimal, EngineError> {
        self.fit(value)
            .ok_or(EngineError::FigureOutOfRange { figure, value })
    }
}

fn count(figure: &'static str, value: u32) -> Result<i32, EngineError> {
    i32::try_from(value).map_err(|_| EngineError::FigureOutOfRange {
        figure,
        value: f64::from(value),
    })
}

/// A [`Summary`] as stored in `simulation_summary`: decimals at the column scales, `None` = NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSummary {
    pub trading_days: i32,
    pub final_value: Option<Decimal>,
    pub total_return: Decimal,
    pub cagr: Option<Decimal>,
    pub volatility: Option<Decimal>,
    pub sharpe_ratio: Option<Decimal>,
    pub sortino_ratio: Option<Decimal>,
    pub max_drawdown: Decimal,
    pub max_recovery_days: i32,
    pub worst_1m_return: Option<Decimal>,
    pub worst_3m_return: Option<Decimal>,
    pub rebalance_count: i32,
}

/// A [`PathPoint`] as stored in `simulation_path` (serialised with the column names, decimals as
/// strings).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredPathPoint {
    pub date: NaiveDate,
    pub nav: Decimal,
    pub daily_return: Option<Decimal>,
    pub cumulative_return: Option<Decimal>,
    pub drawdown: Option<Decimal>,
    pub high_water_mark: Option<Decimal>,
}

impl Summary {
    /// Rounds every figure half away from zero to its column's scale (`numeric(8,4)` for the
    /// percentages and ratios, `(10,4)` total_return, `(18,2)` final_value). A nullable figure
    /// that is not finite or does not fit becomes NULL.
    ///
    /// # Errors
    /// [`EngineError::FigureOutOfRange`] naming `total_return` or `max_drawdown` (NOT NULL
    /// columns) when it is not finite or does not fit, or a count that exceeds `i32`.
    pub fn to_stored(&self) -> Result<StoredSummary, EngineError> {
        Ok(StoredSummary {
            trading_days: count("trading_days", self.trading_days)?,
            final_value: MONEY.fit(self.final_value),
            total_return: TOTAL_RETURN.required("total_return", self.total_return)?,
            cagr: PERCENT.nullable(self.cagr),
            volatility: PERCENT.nullable(self.volatility),
            sharpe_ratio: PERCENT.nullable(self.sharpe_ratio),
            sortino_ratio: PERCENT.nullable(self.sortino_ratio),
            max_drawdown: PERCENT.required("max_drawdown", self.max_drawdown)?,
            max_recovery_days: count("max_recovery_days", self.max_recovery_days)?,
            worst_1m_return: PERCENT.nullable(self.worst_1m_return),
            worst_3m_return: PERCENT.nullable(self.worst_3m_return),
            rebalance_count: count("rebalance_count", self.rebalance_count)?,
        })
    }
}

impl PathPoint {
    /// Rounds half away from zero: `nav` and `high_water_mark` to `numeric(18,4)`, the return
    /// and drawdown fractions to `numeric(12,8)`; a nullable one that does not fit becomes NULL.
    ///
    /// # Errors
    /// [`EngineError::FigureOutOfRange`] naming `nav` (NOT NULL) when it is not finite or does
    /// not fit.
    pub fn to_stored(&self) -> Result<StoredPathPoint, EngineError> {
        Ok(StoredPathPoint {
            date: self.date,
            nav: NAV.required("nav", self.nav)?,
            daily_return: FRACTION.fit(self.daily_return),
            cumulative_return: FRACTION.fit(self.cumulative_return),
            drawdown: FRACTION.fit(self.drawdown),
            high_water_mark: NAV.fit(self.high_water_mark),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tests::d;

    fn text(column: Numeric, value: f64) -> Option<String> {
        column.fit(value).map(|v| v.to_string())
    }

    #[test]
    fn rounds_half_away_from_zero_at_the_column_scale() {
        assert_eq!(text(PERCENT, 0.00005).as_deref(), Some("0.0001"));
        assert_eq!(text(PERCENT, -0.00005).as_deref(), Some("-0.0001"));
        assert_eq!(text(PERCENT, 0.00004999).as_deref(), Some("0.0000"));
        assert_eq!(text(PERCENT, 12.34565).as_deref(), Some("12.3457"));
        // 2.675 is 2.67499999999999982… in binary; it is rounded as the 2.675 it reads as.
        assert_eq!(text(MONEY, 2.675).as_deref(), Some("2.68"));
        assert_eq!(text(MONEY, -2.675).as_deref(), Some("-2.68"));
        assert_eq!(text(FRACTION, 0.123456785).as_deref(), Some("0.12345679"));
        assert_eq!(text(NAV, 1000.0).as_deref(), Some("1000.0000"));
    }

    #[test]
    fn tiny_values_round_to_a_positive_zero() {
        assert_eq!(text(FRACTION, 1e-30).as_deref(), Some("0.00000000"));
        assert_eq!(text(FRACTION, -1e-10).as_deref(), Some("0.00000000"));
        assert_eq!(text(FRACTION, -0.0).as_deref(), Some("0.00000000"));
    }

    #[test]
    fn values_that_do_not_fit_are_none() {
        // numeric(8,4) holds |x| ≤ 9999.9999; 9999.99995 rounds up to 10000.0000.
        assert_eq!(text(PERCENT, 9999.9999).as_deref(), Some("9999.9999"));
        assert_eq!(text(PERCENT, 9999.99995), None);
        assert_eq!(text(PERCENT, -10000.0), None);
        assert_eq!(text(FRACTION, 10_000.0), None);
        assert_eq!(text(NAV, 1e300), None);
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(text(PERCENT, value), None);
        }
    }

    fn summary() -> Summary {
        Summary {
            trading_days: 3,
            final_value: 1019.494,
            total_return: 1.9494,
            cagr: None,
            volatility: Some(39.9499687108763),
            sharpe_ratio: Some(4.14218096633823),
            sortino_ratio: Some(8.98276031747563),
            max_drawdown: 2.0,
            max_recovery_days: 2,
            worst_1m_return: None,
            worst_3m_return: None,
            rebalance_count: 1,
        }
    }

    #[test]
    fn summary_is_stored_at_column_scales() {
        let stored = summary().to_stored().unwrap();
        let s = |v: Option<Decimal>| v.map(|d| d.to_string());
        // 1019.494 → 1019.49 (the 4 is below the midpoint); 39.94996871 → 39.9500.
        assert_eq!(s(stored.final_value).as_deref(), Some("1019.49"));
        assert_eq!(stored.total_return.to_string(), "1.9494");
        assert_eq!(s(stored.volatility).as_deref(), Some("39.9500"));
        assert_eq!(s(stored.sharpe_ratio).as_deref(), Some("4.1422"));
        assert_eq!(s(stored.sortino_ratio).as_deref(), Some("8.9828"));
        assert_eq!(stored.max_drawdown.to_string(), "2.0000");
        assert_eq!(stored.cagr, None);
        assert_eq!(
            (
                stored.trading_days,
                stored.max_recovery_days,
                stored.rebalance_count
            ),
            (3, 2, 1)
        );
    }

    #[test]
    fn summary_overflow_is_null_or_a_named_error() {
        let nullable = Summary {
            cagr: Some(12_345.0),
            sharpe_ratio: Some(f64::NAN),
            final_value: 1e17,
            ..summary()
        }
        .to_stored()
        .unwrap();
        assert_eq!(
            (nullable.cagr, nullable.sharpe_ratio, nullable.final_value),
            (None, None, None)
        );

        let total = Summary {
            total_return: 1e6,
            ..summary()
        };
        assert_eq!(
            total.to_stored().unwrap_err(),
            EngineError::FigureOutOfRange {
                figure: "total_return",
                value: 1e6
            }
        );
        let mdd = Summary {
            max_drawdown: f64::INFINITY,
            ..summary()
        };
        assert!(matches!(
            mdd.to_stored().unwrap_err(),
            EngineError::FigureOutOfRange {
                figure: "max_drawdown",
                ..
            }
        ));
        let days = Summary {
            trading_days: u32::MAX,
            ..summary()
        };
        assert!(matches!(
            days.to_stored().unwrap_err(),
            EngineError::FigureOutOfRange {
                figure: "trading_days",
                ..
            }
        ));
    }

    #[test]
    fn path_point_is_stored_at_column_scales() {
        let point = PathPoint {
            date: d(2024, 1, 2),
            nav: 1234.56785,
            daily_return: 0.0123456789,
            cumulative_return: f64::NAN,
            drawdown: -0.000000005,
            high_water_mark: 1234.56785,
        };
        let stored = point.to_stored().unwrap();
        assert_eq!(stored.date, d(2024, 1, 2));
        assert_eq!(stored.nav.to_string(), "1234.5679");
        assert_eq!(stored.daily_return.unwrap().to_string(), "0.01234568");
        assert_eq!(stored.cumulative_return, None);
        assert_eq!(stored.drawdown.unwrap().to_string(), "-0.00000001");
        assert_eq!(stored.high_water_mark.unwrap().to_string(), "1234.5679");

        let huge = PathPoint { nav: 1e15, ..point };
        assert!(matches!(
            huge.to_stored().unwrap_err(),
            EngineError::FigureOutOfRange { figure: "nav", .. }
        ));
    }
}
