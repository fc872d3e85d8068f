//! Settings are a value: two of them used side by side in one process stamp, accept and cache
//! by their own engine version and TTL, and nothing reads the environment behind the caller.

use chrono::TimeDelta;
use foresto::scenarios::{self, NewVersion};
use foresto::{Error, Settings, simulation};

use crate::simulation_service::{fixture, request};
use crate::support::{date, strings, version};

#[tokio::test]
async fn two_settings_side_by_side_in_one_process() {
    let t = fixture().await;
    let db = t.conn();
    let standard = Settings::default();
    let tenant = Settings::default()
        .with_engine_version("2.0.0-tenant")
        .unwrap()
        .with_result_ttl(None);

    let for_standard = request("GROWTH");
    let for_tenant = simulation::SimulationRequest {
        engine_version: tenant.engine_version().to_owned(),
        ..request("GROWTH")
    };
    // Concurrently, on one pool: each call runs with its own settings.
    let (a, b) = tokio::join!(
        simulation::simulate(db, &for_standard, &standard),
        simulation::simulate(db, &for_tenant, &tenant),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.stored.run.request_hash, b.stored.run.request_hash);
    assert_eq!(a.stored.run.engine_version, "1.0.0");
    assert_eq!(b.stored.run.engine_version, "2.0.0-tenant");
    let ttl = a.stored.run.expires_at.unwrap() - a.stored.run.created_at.unwrap();
    assert!(
        (TimeDelta::days(30) - ttl).abs() < TimeDelta::minutes(1),
        "{ttl}"
    );
    assert_eq!(
        b.stored.run.expires_at, None,
        "the tenant keeps results forever"
    );
    assert_eq!(a.stored.summary.total_return, b.stored.summary.total_return);

    // A request for one engine is refused by settings of another, and stores nothing.
    let err = simulation::simulate(db, &for_standard, &tenant)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidInput {
                field: "engine_version",
                ..
            }
        ),
        "{err}"
    );

    // Portfolio versions are stamped with the engine of the settings they were written with.
    let v: NewVersion = version(
        "GROWTH",
        date(2024, 2, 1),
        &[("AAA", "0.3"), ("BBB", "0.7")],
    );
    scenarios::set_portfolio_version(db, &v, &tenant)
        .await
        .unwrap();
    assert_eq!(
        strings(
            db,
            "SELECT engine_version FROM portfolio_model WHERE effective_date = '2024-02-01'"
        )
        .await,
        ["2.0.0-tenant"]
    );
}

#[test]
fn the_environment_is_read_only_when_the_caller_asks() {
    // `Settings::default()` ignores the process environment whatever it holds; `from_lookup`
    // (what `from_env` calls) reads exactly the variables it is given.
    let settings =
        Settings::from_lookup(|name| (name == "ENGINE_VERSION").then(|| "3.1.4".to_owned()))
            .unwrap();
    assert_eq!(settings.engine_version(), "3.1.4");
    assert_eq!(Settings::default().engine_version(), "1.0.0");
}
