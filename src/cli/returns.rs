//! PLACEHOLDER: replaced by the owner of this subcommand.

use super::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args, _ctx: &Context) -> anyhow::Result<()> {
    anyhow::bail!("PLACEHOLDER")
}
