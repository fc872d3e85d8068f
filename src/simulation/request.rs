//! Simulation requests and their hash (`simulation_run.request_hash`).
//!
//! Two requests that must produce the same result hash alike, whatever the key order, the
//! spelling of their numbers (`1000000`, `1000000.0`, `"1000000.00"`) or the order of their
//! weights; a change to any input that changes the result, including the engine version, changes
//! the hash. The rule is `docs/metrics.md`, "Request hash".

use chrono::NaiveDate;
use entity::enums::RebalanceFreq;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Top-level keys that never change a result and are left out of the hash.
pub const EXCLUDED_KEYS: [&str; 3] = ["timestamp", "request_id", "user_id"];

/// What is simulated: a stored scenario, or a portfolio given directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestType {
    Scenario,
    Portfolio,
}

impl RequestType {
    /// The name used in the hash prefix and in the request JSON: `scenario` / `portfolio`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scenario => "scenario",
            Self::Portfolio => "portfolio",
        }
    }
}

/// An instrument (ticker or id, as given) and its weight in a directly given portfolio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstrumentWeight {
    pub instrument: String,
    pub weight: Decimal,
}

/// The subject of a request; in JSON, `request_type` tags which one it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request_type", rename_all = "snake_case")]
pub enum Subject {
    /// A scenario, simulated with its portfolio versions.
    Scenario { scenario_id: String },
    /// Instruments and weights given directly.
    Portfolio { weights: Vec<InstrumentWeight> },
}

/// One simulation request, as received and as stored in `simulation_run.request_params`.
///
/// Decimal fields accept JSON numbers or strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulationRequest {
    #[serde(flatten)]
    pub subject: Subject,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub initial_amount: Decimal,
    /// `None`: use the portfolio's own frequency.
    #[serde(default)]
    pub rebalance_freq: Option<RebalanceFreq>,
    /// Annual, as a fraction (0.03 = 3 %).
    #[serde(default)]
    pub risk_free_rate: Decimal,
    /// Loss limit in percent of the high-water mark; `None`: no limit.
    #[serde(default)]
    pub max_loss_limit_pct: Option<Decimal>,
    pub engine_version: String,
    /// Who asked; never part of the hash.
    #[serde(default)]
    pub user_id: Option<i64>,
}

impl SimulationRequest {
    #[must_use]
    pub fn request_type(&self) -> RequestType {
        match self.subject {
            Subject::Scenario { .. } => RequestType::Scenario,
            Subject::Portfolio { .. } => RequestType::Portfolio,
        }
    }

    /// Every result-changing input as JSON, in a form that does not depend on how the request
    /// was written: decimals as strings without trailing zeros (`"1000000"`, `"0.55"`), dates as
    /// `YYYY-MM-DD`, weights sorted by instrument (then weight, so that even a repeated
    /// instrument sorts deterministically). Absent options are `null`. `user_id` is left out.
    #[must_use]
    pub fn to_hash_json(&self) -> Value {
        let mut value = json!({
            "request_type": self.request_type().as_str(),
            "start_date": self.start_date.format("%Y-%m-%d").to_string(),
            "end_date": self.end_date.format("%Y-%m-%d").to_string(),
            "initial_amount": decimal_text(self.initial_amount),
            "rebalance_freq": self.rebalance_freq,
            "risk_free_rate": decimal_text(self.risk_free_rate),
            "max_loss_limit_pct": self.max_loss_limit_pct.map(decimal_text),
            "engine_version": self.engine_version,
        });
        match &self.subject {
            Subject::Scenario { scenario_id } => value["scenario_id"] = json!(scenario_id),
            Subject::Portfolio { weights } => value["weights"] = sorted_weights(weights),
        }
        value
    }

    /// `hash_value(request_type, to_hash_json())`: 64 lowercase hex characters.
    #[must_use]
    pub fn request_hash(&self) -> String {
        hash_value(self.request_type().as_str(), &self.to_hash_json())
    }
}

fn sorted_weights(weights: &[InstrumentWeight]) -> Value {
    let mut pairs: Vec<(&str, Decimal)> = weights
        .iter()
        .map(|w| (w.instrument.as_str(), w.weight.normalize()))
        .collect();
    pairs.sort_unstable();
    pairs
        .into_iter()
        .map(|(instrument, weight)| json!({ "instrument": instrument, "weight": weight.to_string() }))
        .collect()
}

fn decimal_text(value: Decimal) -> String {
    // `normalize` also turns −0 into 0.
    value.normalize().to_string()
}

/// RFC 8785 (JSON Canonicalization Scheme) form of `value`: keys sorted by UTF-16 code units,
/// no whitespace, ECMAScript number formatting, minimal string escaping.
#[must_use]
pub fn canonical_json(value: &Value) -> String {
    serde_json_canonicalizer::to_string(value).expect(
        "a serde_json::Value has string keys and finite numbers, so it always canonicalizes",
    )
}

/// Lowercase hex SHA-256 of `"<request_type>:<canonical JSON>"`, after dropping the top-level
/// [`EXCLUDED_KEYS`] from an object. Hashes a raw JSON request as it is: numbers are not
/// normalised here (use [`SimulationRequest::request_hash`] for that).
#[must_use]
pub fn hash_value(request_type: &str, value: &Value) -> String {
    let canonical = match value {
        Value::Object(map) => {
            let mut kept = map.clone();
            kept.retain(|key, _| !EXCLUDED_KEYS.contains(&key.as_str()));
            canonical_json(&Value::Object(kept))
        }
        other => canonical_json(other),
    };
    let digest = Sha256::new()
        .chain_update(request_type.as_bytes())
        .chain_update(b":")
        .chain_update(canonical.as_bytes())
        .finalize();
    hex::encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> SimulationRequest {
        serde_json::from_str(text).unwrap()
    }

    fn scenario() -> SimulationRequest {
        parse(
            r#"{"request_type": "scenario", "scenario_id": "BALANCED", "start_date": "2024-01-01",
                "end_date": "2024-12-31", "initial_amount": 1000000, "rebalance_freq": "MONTHLY",
                "risk_free_rate": "0.03", "max_loss_limit_pct": 20, "engine_version": "1.0.0"}"#,
        )
    }

    fn portfolio(weights: &str) -> SimulationRequest {
        parse(&format!(
            r#"{{"request_type": "portfolio", "weights": {weights}, "start_date": "2024-01-01",
                "end_date": "2024-12-31", "initial_amount": 1000, "engine_version": "1.0.0"}}"#
        ))
    }

    #[test]
    fn hash_json_is_normalised() {
        let expected = json!({
            "request_type": "scenario",
            "scenario_id": "BALANCED",
            "start_date": "2024-01-01",
            "end_date": "2024-12-31",
            "initial_amount": "1000000",
            "rebalance_freq": "MONTHLY",
            "risk_free_rate": "0.03",
            "max_loss_limit_pct": "20",
            "engine_version": "1.0.0",
        });
        assert_eq!(scenario().to_hash_json(), expected);
        assert_eq!(scenario().request_type(), RequestType::Scenario);
    }

    #[test]
    fn pinned_hash() {
        // Computed independently:
        // python3 -c 'import hashlib; print(hashlib.sha256(b"scenario:" + CANONICAL).hexdigest())'
        let canonical = r#"{"end_date":"2024-12-31","engine_version":"1.0.0","initial_amount":"1000000","max_loss_limit_pct":"20","rebalance_freq":"MONTHLY","request_type":"scenario","risk_free_rate":"0.03","scenario_id":"BALANCED","start_date":"2024-01-01"}"#;
        assert_eq!(canonical_json(&scenario().to_hash_json()), canonical);
        assert_eq!(
            scenario().request_hash(),
            "253b4329327532fb3ac07757466cfc43907b939c37c6e96d10bcb9fd6626cc08"
        );
    }

    #[test]
    fn hash_is_64_lowercase_hex() {
        let hash = scenario().request_hash();
        assert_eq!(hash.len(), 64);
        assert!(hash.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
    }

    #[test]
    fn key_order_does_not_matter() {
        let reordered = parse(
            r#"{"engine_version": "1.0.0", "max_loss_limit_pct": 20, "risk_free_rate": "0.03",
                "rebalance_freq": "MONTHLY", "initial_amount": 1000000, "end_date": "2024-12-31",
                "start_date": "2024-01-01", "scenario_id": "BALANCED", "request_type": "scenario"}"#,
        );
        assert_eq!(reordered.request_hash(), scenario().request_hash());
        let raw: Value = serde_json::from_str(r#"{"b": 1, "a": [2, {"y": 1, "x": 2}]}"#).unwrap();
        let reordered: Value =
            serde_json::from_str(r#"{"a": [2, {"x": 2, "y": 1}], "b": 1}"#).unwrap();
        assert_eq!(
            hash_value("portfolio", &raw),
            hash_value("portfolio", &reordered)
        );
    }

    #[test]
    fn number_spelling_does_not_matter() {
        let spellings = ["1000000", "1000000.0", "\"1000000.00\"", "1e6"];
        let hashes: Vec<String> = spellings
            .iter()
            .map(|amount| {
                let mut request = serde_json::to_value(scenario()).unwrap();
                request["initial_amount"] = serde_json::from_str(amount).unwrap();
                serde_json::from_value::<SimulationRequest>(request)
                    .unwrap()
                    .request_hash()
            })
            .collect();
        assert!(
            hashes.iter().all(|h| *h == scenario().request_hash()),
            "{hashes:?}"
        );
    }

    #[test]
    fn weight_order_and_spelling_do_not_matter() {
        let a = portfolio(
            r#"[{"instrument": "SPY", "weight": 0.6}, {"instrument": "AGG", "weight": "0.40"}]"#,
        );
        let b = portfolio(
            r#"[{"instrument": "AGG", "weight": 0.4}, {"instrument": "SPY", "weight": "0.600"}]"#,
        );
        assert_eq!(a.request_hash(), b.request_hash());
        assert_eq!(a.request_type(), RequestType::Portfolio);
        assert_eq!(
            a.to_hash_json()["weights"],
            json!([{"instrument": "AGG", "weight": "0.4"}, {"instrument": "SPY", "weight": "0.6"}])
        );
        let c = portfolio(
            r#"[{"instrument": "AGG", "weight": 0.5}, {"instrument": "SPY", "weight": 0.5}]"#,
        );
        assert_ne!(a.request_hash(), c.request_hash());
    }

    #[test]
    fn portfolio_key_order_does_not_matter() {
        let reordered = parse(
            r#"{"engine_version": "1.0.0", "initial_amount": 1000, "end_date": "2024-12-31",
                "weights": [{"weight": "0.600", "instrument": "SPY"},
                            {"weight": 0.4, "instrument": "AGG"}],
                "start_date": "2024-01-01", "request_type": "portfolio"}"#,
        );
        let plain = portfolio(
            r#"[{"instrument": "AGG", "weight": "0.4"}, {"instrument": "SPY", "weight": 0.6}]"#,
        );
        assert_eq!(reordered.request_hash(), plain.request_hash());
    }

    #[test]
    fn excluded_keys_do_not_change_the_hash() {
        let mut with_extras = serde_json::to_value(scenario()).unwrap();
        with_extras["user_id"] = json!(42);
        with_extras["timestamp"] = json!("2024-06-01T12:00:00Z");
        with_extras["request_id"] = json!("b7d1");
        let parsed: SimulationRequest = serde_json::from_value(with_extras.clone()).unwrap();
        assert_eq!(parsed.user_id, Some(42));
        assert_eq!(parsed.request_hash(), scenario().request_hash());

        let plain = serde_json::to_value(scenario()).unwrap();
        assert_eq!(
            hash_value("scenario", &with_extras),
            hash_value("scenario", &plain)
        );
        // Only top-level keys are excluded.
        let nested = json!({ "a": { "user_id": 1 } });
        assert_ne!(
            hash_value("scenario", &nested),
            hash_value("scenario", &json!({ "a": {} }))
        );
    }

    #[test]
    fn every_input_changes_the_hash() {
        let base = scenario();
        let variants: Vec<SimulationRequest> = vec![
            SimulationRequest {
                subject: Subject::Scenario {
                    scenario_id: "GROWTH".into(),
                },
                ..base.clone()
            },
            SimulationRequest {
                start_date: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
                ..base.clone()
            },
            SimulationRequest {
                end_date: NaiveDate::from_ymd_opt(2024, 12, 30).unwrap(),
                ..base.clone()
            },
            SimulationRequest {
                initial_amount: Decimal::new(1_000_001, 0),
                ..base.clone()
            },
            SimulationRequest {
                rebalance_freq: None,
                ..base.clone()
            },
            SimulationRequest {
                rebalance_freq: Some(RebalanceFreq::None),
                ..base.clone()
            },
            SimulationRequest {
                risk_free_rate: Decimal::ZERO,
                ..base.clone()
            },
            SimulationRequest {
                max_loss_limit_pct: None,
                ..base.clone()
            },
            SimulationRequest {
                engine_version: "1.0.1".into(),
                ..base.clone()
            },
        ];
        let mut hashes: Vec<String> = variants
            .iter()
            .map(SimulationRequest::request_hash)
            .collect();
        hashes.push(base.request_hash());
        let count = hashes.len();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), count, "two different requests hashed alike");
    }

    #[test]
    fn request_type_prefix_is_part_of_the_hash() {
        let value = scenario().to_hash_json();
        assert_ne!(
            hash_value("scenario", &value),
            hash_value("portfolio", &value)
        );
    }

    #[test]
    fn request_round_trips_through_json() {
        let request = portfolio(r#"[{"instrument": "SPY", "weight": "0.6"}]"#);
        let text = serde_json::to_string(&request).unwrap();
        assert_eq!(
            serde_json::from_str::<SimulationRequest>(&text).unwrap(),
            request
        );
    }
}
