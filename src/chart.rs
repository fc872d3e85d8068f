//! Charts of simulation paths: cumulative return of one or more runs on one date axis, with
//! their drawdowns beneath, written as SVG or PNG.
//!
//! Text is drawn with a font embedded in the binary (Ubuntu Light, from `epaint_default_fonts`),
//! so PNG output needs no system fonts; SVG names the `sans-serif` family and lets the viewer
//! render it.

use std::path::Path;

use chrono::NaiveDate;
use plotters::chart::SeriesAnno;
use plotters::coord::Shift;
use plotters::coord::types::{RangedCoordf64, RangedDate};
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::simulation::{RunKey, runs};

/// One line of the chart: a run's path as `(date, cumulative return, drawdown)`, both fractions.
#[derive(Debug, Clone)]
pub struct ChartSeries {
    /// Legend text, e.g. `Growth 2007-10-01..2009-12-31 NONE`.
    pub label: String,
    /// The path, in date order.
    pub points: Vec<(NaiveDate, f64, f64)>,
}

/// The chart line of a stored run: its path's cumulative return and drawdown, labelled with the
/// scenario's English name (else its id), window and rebalance frequency.
///
/// # Errors
/// [`Error::NotFound`] when the run does not exist; database errors.
pub async fn run_series<C: sea_orm::ConnectionTrait>(db: &C, key: &RunKey) -> Result<ChartSeries> {
    let run = runs::find(db, key).await?;
    let path = runs::path(db, run.run_id).await?;
    stored_series(db, &run, &path).await
}

/// [`run_series`] for a run and path already in hand (only the scenario's name is read).
///
/// # Errors
/// Database errors.
pub async fn stored_series<C: sea_orm::ConnectionTrait>(
    db: &C,
    run: &entity::simulation_run::Model,
    path: &[crate::engine::StoredPathPoint],
) -> Result<ChartSeries> {
    use sea_orm::{ActiveEnum, EntityTrait};
    let scenario = match &run.scenario_id {
        Some(id) => entity::scenario_definition::Entity::find_by_id(id.clone())
            .one(db)
            .await?
            .map(|s| s.name_en.unwrap_or(s.scenario_id)),
        None => None,
    };
    let rebalance = run
        .rebalance_freq
        .map(|r| format!(" · {}", r.to_value()))
        .unwrap_or_default();
    let label = format!(
        "{} · {} to {}{rebalance}",
        scenario.unwrap_or_else(|| format!("run {}", run.run_id)),
        run.start_date,
        run.end_date
    );
    let fraction = |d: Option<rust_decimal::Decimal>| {
        d.and_then(|d| rust_decimal::prelude::ToPrimitive::to_f64(&d))
    };
    // Path rows always carry both figures when written by the engine; a hand-written row
    // without them is left out of the line rather than drawn as zero.
    let points = path
        .iter()
        .filter_map(|p| {
            Some((
                p.date,
                fraction(p.cumulative_return)?,
                fraction(p.drawdown)?,
            ))
        })
        .collect();
    Ok(ChartSeries { label, points })
}

const SIZE: (u32, u32) = (1400, 900);
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The font is a known-good TTF compiled into the binary; registering it cannot fail
        // for reasons a caller could act on, and a failure only degrades text rendering.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
    });
}

fn draw_err(e: impl std::fmt::Display) -> Error {
    Error::invalid("chart", e.to_string())
}

/// Writes the chart of `series` to `out`: SVG when the file name ends in `.svg`, PNG when it
/// ends in `.png`.
///
/// # Errors
/// [`Error::InvalidInput`] for another extension, no series, or a series without points;
/// [`Error::Io`] when the file cannot be written.
pub fn render(series: &[ChartSeries], title: &str, out: &Path) -> Result<()> {
    if series.is_empty() || series.iter().any(|s| s.points.is_empty()) {
        return Err(Error::invalid(
            "chart",
            "every series needs at least one point",
        ));
    }
    register_font();
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg") => {
            let root = SVGBackend::new(out, SIZE).into_drawing_area();
            draw(&root, series, title)?;
            root.present().map_err(|e| write_err(out, e))
        }
        Some("png") => {
            let root = BitMapBackend::new(out, SIZE).into_drawing_area();
            draw(&root, series, title)?;
            root.present().map_err(|e| write_err(out, e))
        }
        _ => Err(Error::invalid(
            "chart file",
            format!("{}: use a .svg or .png file name", out.display()),
        )),
    }
}

fn write_err(out: &Path, e: impl std::fmt::Display) -> Error {
    Error::io(out, std::io::Error::other(e.to_string()))
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[ChartSeries],
    title: &str,
) -> Result<()> {
    root.fill(&WHITE).map_err(draw_err)?;
    let root = root.titled(title, ("sans-serif", 30)).map_err(draw_err)?;
    let (upper, lower) = root.split_vertically(SIZE.1 * 62 / 100);

    let first = series
        .iter()
        .filter_map(|s| s.points.first())
        .map(|p| p.0)
        .min();
    let last = series
        .iter()
        .filter_map(|s| s.points.last())
        .map(|p| p.0)
        .max();
    let (Some(first), Some(mut last)) = (first, last) else {
        return Err(Error::invalid("chart", "no points"));
    };
    if last == first {
        last = first + chrono::Days::new(1);
    }
    let values = || series.iter().flat_map(|s| s.points.iter());
    let (ret_min, ret_max) = padded_range(values().map(|p| p.1 * 100.0));
    let (dd_min, _) = padded_range(values().map(|p| p.2 * 100.0).chain([0.0]));

    let mut returns = panel(
        &upper,
        "Cumulative return (%)",
        first..last,
        ret_min..ret_max,
    )?;
    let mut drawdowns = panel(&lower, "Drawdown (%)", first..last, dd_min..0.0)?;
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        plot(
            &mut returns,
            s.points.iter().map(|p| (p.0, p.1 * 100.0)),
            color,
        )?
        .label(s.label.clone())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)));
        plot(
            &mut drawdowns,
            s.points.iter().map(|p| (p.0, p.2 * 100.0)),
            color,
        )?;
    }
    returns
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 17))
        .draw()
        .map_err(draw_err)?;
    Ok(())
}

type Panel<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedDate<NaiveDate>, RangedCoordf64>>;

/// One panel of the chart: a date axis labelled by month and a percent axis, with grid.
fn panel<'a, DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    dates: std::ops::Range<NaiveDate>,
    percent: std::ops::Range<f64>,
) -> Result<Panel<'a, DB>> {
    let mut chart = ChartBuilder::on(area)
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(80)
        .caption(caption, ("sans-serif", 22))
        .build_cartesian_2d(dates, percent)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_labels(10)
        .x_label_formatter(&|d| d.format("%Y-%m").to_string())
        .y_label_formatter(&|v| format!("{v:.0}%"))
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(draw_err)?;
    Ok(chart)
}

/// Draws one line on `panel`.
fn plot<'a, 'b, DB: DrawingBackend + 'a>(
    panel: &'b mut Panel<'a, DB>,
    points: impl Iterator<Item = (NaiveDate, f64)>,
    color: RGBColor,
) -> Result<&'b mut SeriesAnno<'a, DB>> {
    panel
        .draw_series(LineSeries::new(points, color.stroke_width(1)))
        .map_err(draw_err)
}

/// The range of `values` with 5 % head-room on both sides (and a non-empty span).
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(0.5);
    (lo - pad, hi + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> Vec<ChartSeries> {
        let start = NaiveDate::from_ymd_opt(2008, 1, 2).unwrap();
        let points = |drift: f64| {
            (0..300)
                .map(|i| {
                    let d = start + chrono::Days::new(i);
                    let r = drift * i as f64 + 0.05 * (i as f64 / 20.0).sin();
                    (d, r, (r - 0.1).min(0.0))
                })
                .collect()
        };
        vec![
            ChartSeries {
                label: "Growth".into(),
                points: points(0.001),
            },
            ChartSeries {
                label: "Defensive".into(),
                points: points(-0.0005),
            },
        ]
    }

    #[test]
    fn writes_svg_with_dates_legend_and_both_panels() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("c.svg");
        render(&series(), "Scenarios", &out).unwrap();
        let svg = std::fs::read_to_string(&out).unwrap();
        for text in [
            "Growth",
            "Defensive",
            "Cumulative return (%)",
            "Drawdown (%)",
            "2008-03",
            "Scenarios",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
    }

    #[test]
    fn writes_a_png_image() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("c.png");
        render(&series(), "Scenarios", &out).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn rejects_unknown_extensions_and_empty_series() {
        let dir = tempfile::tempdir().unwrap();
        assert!(render(&series(), "t", &dir.path().join("c.pdf")).is_err());
        assert!(render(&[], "t", &dir.path().join("c.svg")).is_err());
    }
}
