//! `foresto`: the operator's command line over the Foresto data layer.

mod cli;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    // Rust ignores SIGPIPE, which turns `foresto … | head` into a panic on the next print;
    // the default action ends the process quietly, as other command-line tools do.
    // SAFETY: SIG_DFL is always a valid disposition and nothing else here handles SIGPIPE.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        );
    }
    let args = cli::Cli::parse();
    cli::init_tracing();
    match cli::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
