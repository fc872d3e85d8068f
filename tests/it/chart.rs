//! `foresto runs chart`: stored runs drawn on one time axis, as SVG and PNG.

use crate::support::{TestDatabase, foresto, migrated_with};

const RUNS: &str = r#"
INSERT INTO simulation_run (request_hash, scenario_id, start_date, end_date, initial_amount, rebalance_freq, engine_version)
VALUES (repeat('a', 64), 'GROWTH', '2008-01-02', '2008-03-31', 1000, 'NONE', '1.0.0'),
       (repeat('b', 64), 'MIN_VOL', '2008-01-02', '2008-03-31', 1000, 'MONTHLY', '1.0.0');
INSERT INTO simulation_path (run_id, path_date, nav, cumulative_return, drawdown)
SELECT r, d::date, 1000 * (1 + 0.001 * r * i), 0.001 * r * i, -0.0005 * i
  FROM generate_series(1, 2) AS r,
       generate_series(DATE '2008-01-02', DATE '2008-03-31', INTERVAL '1 day') WITH ORDINALITY AS g(d, i);
"#;

fn chart(t: &TestDatabase, args: &[&str]) -> std::process::Output {
    foresto(t, &[&["runs", "chart"], args].concat())
}

#[tokio::test]
async fn charts_runs_by_id_and_hash_as_svg_and_png() {
    let t = migrated_with(RUNS).await;
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("runs.svg");
    let hash_b = "b".repeat(64);
    let out = chart(
        &t,
        &[
            "1",
            &hash_b,
            "--out",
            svg.to_str().unwrap(),
            "--title",
            "Two runs",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&svg).unwrap();
    for needle in [
        "Two runs",
        "Growth · 2008-01-02 to 2008-03-31 · NONE",
        "Minimum Volatility · 2008-01-02 to 2008-03-31 · MONTHLY",
        "Drawdown (%)",
        "2008-02",
    ] {
        assert!(text.contains(needle), "{needle} missing");
    }
    let png = dir.path().join("runs.png");
    let out = chart(&t, &["1", "--out", png.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");
}

#[tokio::test]
async fn an_unknown_run_or_format_is_one_clear_error() {
    let t = migrated_with(RUNS).await;
    let dir = tempfile::tempdir().unwrap();
    let out = chart(
        &t,
        &["99", "--out", dir.path().join("x.svg").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: ") && err.contains("99"), "{err}");
    let out = chart(
        &t,
        &["1", "--out", dir.path().join("x.pdf").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(".svg or .png"));
}
