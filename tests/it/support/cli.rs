//! The `foresto` binary of this package, run the way every CLI test runs it: none of the
//! variables that configure it inherited from the shell that started the tests, so each test
//! passes exactly the configuration it means.

use std::path::Path;
use std::process::{Command, Output};

use foresto::db::managed::LOCAL_DIR_ENV;
use foresto::settings::ENV_VARIABLES;

use super::TestDatabase;

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_foresto"));
    // What a developer's shell may have set and the binary would otherwise read.
    for var in std::iter::once("DATABASE_URL").chain(ENV_VARIABLES) {
        command.env_remove(var);
    }
    command.args(args);
    command
}

/// `foresto --database-url <t> args…`, to run or to spawn.
pub fn foresto_command(t: &TestDatabase, args: &[&str]) -> Command {
    let mut command = command(&["--database-url", t.url()]);
    command.args(args);
    command
}

/// Runs `foresto --database-url <t> args…`.
pub fn foresto(t: &TestDatabase, args: &[&str]) -> Output {
    foresto_command(t, args).output().expect("running foresto")
}

/// Runs `foresto --database-url <t> args…`, asserts that it succeeded and returns its stdout.
pub fn foresto_ok(t: &TestDatabase, args: &[&str]) -> String {
    let out = foresto(t, args);
    assert!(
        out.status.success(),
        "foresto {args:?}: {out:?}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `foresto args…` in working directory `dir` with no database named and no managed server
/// directory given, to run: the binary finds its configuration there (a `.env` file) or falls
/// back to the managed local server of the nearest `.foresto` at or above `dir`.
pub fn foresto_at(dir: &Path, args: &[&str]) -> Command {
    let mut command = command(args);
    command.current_dir(dir).env_remove(LOCAL_DIR_ENV);
    command
}

/// `foresto args…` in working directory `dir` with no database named, to run: the binary
/// finds its configuration there (a `.env` file) or falls back to a managed local server kept
/// under `local_dir`.
pub fn foresto_in(dir: &Path, local_dir: &Path, args: &[&str]) -> Command {
    let mut command = foresto_at(dir, args);
    command.env(LOCAL_DIR_ENV, local_dir);
    command
}

/// Runs `foresto --database-url <t> args…`, asserts that it failed with exit code 1 and one line
/// on stderr, and returns that line.
pub fn foresto_fails(t: &TestDatabase, args: &[&str]) -> String {
    let out = foresto(t, args);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "foresto {args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "foresto {args:?}: {stderr}");
    stderr
}
