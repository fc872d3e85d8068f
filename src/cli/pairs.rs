//! `KEY=VALUE,KEY=VALUE` option values: asset-class maps and weight lists.

use anyhow::Context as _;
use rust_decimal::Decimal;

/// `K=V,K=V` pairs, in order; blanks around items are ignored.
pub fn pairs<'a>(option: &str, text: &'a str) -> anyhow::Result<Vec<(&'a str, &'a str)>> {
    text.split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| {
            item.split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .with_context(|| format!("--{option}: '{item}' is not KEY=VALUE"))
        })
        .collect()
}

/// `--weights` as (instrument, weight) pairs, in order; the weights' rules are the service's.
pub fn weights(text: &str) -> anyhow::Result<Vec<(&str, Decimal)>> {
    pairs("weights", text)?
        .into_iter()
        .map(|(instrument, weight)| {
            let weight = weight
                .parse::<Decimal>()
                .with_context(|| format!("--weights: '{weight}' is not a decimal number"))?;
            Ok((instrument, weight))
        })
        .collect()
}
