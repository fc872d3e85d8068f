//! What every benchmark binary does the same way: run its async body on a multi-threaded tokio
//! runtime, and read its sizes from the environment.

use std::future::Future;

use anyhow::Context as _;

/// Runs `body` to completion on a new multi-threaded runtime.
pub fn block_on(body: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(body)
}

/// The whole number in variable `name`, or `default` when it is unset.
pub fn env_or(name: &str, default: usize) -> anyhow::Result<usize> {
    std::env::var(name).ok().map_or(Ok(default), |v| {
        v.parse().with_context(|| format!("{name}={v}"))
    })
}
