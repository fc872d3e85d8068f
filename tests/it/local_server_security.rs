//! The managed local server and the throwaway test server admit only their owner: a generated
//! password (no trust authentication), a private `.foresto` directory whose files are never
//! reached through symbolic links, and no shell between Foresto and the server's paths.
//!
//! Tests that need a second local account (chown to `nobody`, connecting as `nobody`) run only
//! as root and say so on stderr otherwise.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use foresto::db::local_server::{LocalServerError, PgBinaries};
use foresto::db::managed::ManagedServer;
use foresto::testing::{TEST_DATABASE_URL_ENV, TestDatabase};
use sqlx::Connection;

use crate::support::{foresto_at, foresto_in, reachable_tempdir, select_one};

/// Stops and deletes a managed server however the test ends, so no daemon outlives it.
struct Running {
    server: ManagedServer,
    url: String,
}

impl Running {
    fn start(root: &Path) -> Self {
        let server = ManagedServer::new(root).unwrap();
        let url = server.ensure_running().unwrap();
        Self { server, url }
    }

    fn admin_url(&self) -> String {
        foresto::db::replace_database(&self.url, "postgres")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.server.reset();
    }
}

/// `url` with the password (if any) taken out of its user-info part.
fn without_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, host) = rest.split_once('@').unwrap();
    let user = userinfo.split(':').next().unwrap();
    format!("{scheme}://{user}@{host}")
}

fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, host) = rest.split_once('@').unwrap();
    let user = userinfo.split(':').next().unwrap();
    format!("{scheme}://{user}:{password}@{host}")
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `nobody`'s uid and gid, when this process may act as it (root only).
fn nobody() -> Option<(u32, u32)> {
    if !is_root() {
        eprintln!("not root: skipping the part of this test that needs a second local user");
        return None;
    }
    let user = nix::unistd::User::from_name("nobody").ok().flatten()?;
    Some((user.uid.as_raw(), user.gid.as_raw()))
}

/// A path in the shared temporary directory that nothing has created yet.
fn marker_path(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let path = std::env::temp_dir().join(format!(
        "foresto-pwned-{tag}-{}-{nanos}",
        std::process::id()
    ));
    assert!(!path.exists());
    path
}

// --- 1. authentication --------------------------------------------------------------------------

#[tokio::test]
async fn the_managed_server_admits_only_clients_that_know_its_password() {
    let tmp = reachable_tempdir();
    let root = tmp.path().join(".foresto");
    let running = Running::start(&root);
    let admin = running.admin_url();

    // The URL handed out carries the secret and works.
    assert_eq!(select_one(&admin).await, 1);

    // Without it, or with a wrong one, the server refuses: no trust authentication left.
    let bare = without_password(&admin);
    assert_ne!(bare, admin, "the URL carries no password: {admin}");
    let refused = sqlx::PgConnection::connect(&bare).await;
    assert!(refused.is_err(), "connected without a password: {bare}");
    let wrong = with_password(&admin, "not-the-password");
    assert!(sqlx::PgConnection::connect(&wrong).await.is_err());

    // The secret lives in a file only its owner can read.
    let secret = std::fs::symlink_metadata(root.join("password")).unwrap();
    assert!(secret.is_file());
    assert_eq!(secret.mode() & 0o077, 0, "mode {:o}", secret.mode());
    assert_eq!(secret.uid(), nix::unistd::geteuid().as_raw());
    let root_meta = std::fs::metadata(&root).unwrap();
    assert_eq!(root_meta.mode() & 0o022, 0, "mode {:o}", root_meta.mode());
}

#[test]
fn another_local_user_cannot_connect_or_run_programs_as_the_server() {
    let Some((uid, gid)) = nobody() else {
        return;
    };
    let tmp = reachable_tempdir();
    let root = tmp.path().join(".foresto");
    let running = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { Running::start(&root) });
    let server_uid = std::fs::metadata(root.join("pgdata")).unwrap().uid();
    if server_uid == uid {
        eprintln!("the server itself runs as nobody: no second account to test with");
        return;
    }
    let psql = PgBinaries::locate()
        .unwrap()
        .client_tool("psql")
        .expect("psql");
    let marker = marker_path("copy");
    let out = Command::new(psql)
        .uid(uid)
        .gid(gid)
        .current_dir("/")
        .env_remove("PGPASSWORD")
        .env("PGPASSFILE", "/nonexistent")
        .args([
            "-X",
            "-w",
            "-At",
            "-d",
            &without_password(&running.admin_url()),
        ])
        .arg("-c")
        .arg(format!(
            "COPY (SELECT 1) TO PROGRAM 'touch {}'",
            marker.display()
        ))
        .output()
        .unwrap();
    let marker_created = marker.exists();
    let _ = std::fs::remove_file(&marker);
    assert!(!out.status.success(), "nobody got in: {out:?}");
    assert!(!marker_created, "nobody ran a program as the server");

    // Nor can it read the secret.
    let cat = Command::new("cat")
        .uid(uid)
        .gid(gid)
        .current_dir("/")
        .arg(root.join("password"))
        .output()
        .unwrap();
    assert!(!cat.status.success(), "nobody read the password: {cat:?}");
}

#[tokio::test]
async fn a_cluster_initialised_with_trust_is_secured_on_its_next_start() {
    // What earlier Foresto versions created: trust for every connection, no password.
    let tmp = reachable_tempdir();
    let root = tmp.path().join(".foresto");
    make_dir(&root, 0o711);
    let data = root.join("pgdata");
    make_dir(&data, 0o700);
    let bins = PgBinaries::locate().unwrap();
    let mut initdb = Command::new(bins.bin_dir().join("initdb"));
    initdb.current_dir("/");
    if is_root() {
        let user = ["postgres", "nobody"]
            .iter()
            .find_map(|n| nix::unistd::User::from_name(n).ok().flatten())
            .unwrap();
        nix::unistd::chown(&data, Some(user.uid), Some(user.gid)).unwrap();
        initdb.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
    let out = initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "--no-sync"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let running = Running::start(&root);
    let admin = running.admin_url();
    assert_eq!(select_one(&admin).await, 1);
    assert!(
        sqlx::PgConnection::connect(&without_password(&admin))
            .await
            .is_err(),
        "the old trust rules are still in force"
    );
}

#[tokio::test]
async fn test_databases_need_the_throwaway_servers_password() {
    if std::env::var_os(TEST_DATABASE_URL_ENV).is_some() {
        eprintln!("{TEST_DATABASE_URL_ENV} is set: its server's authentication is not ours");
        return;
    }
    let t = TestDatabase::migrated().await;
    assert_eq!(select_one(t.url()).await, 1);
    let bare = without_password(t.url());
    assert_ne!(bare, t.url(), "the URL carries no password");
    assert!(
        sqlx::PgConnection::connect(&bare).await.is_err(),
        "connected to the test server without a password"
    );
}

// --- 2. the managed directory -------------------------------------------------------------------

#[test]
fn a_foresto_dir_owned_by_another_user_is_refused() {
    let Some((uid, gid)) = nobody() else {
        return;
    };
    let tmp = reachable_tempdir();
    let root = tmp.path().join(".foresto");
    make_dir(&root, 0o700);
    std::os::unix::fs::chown(&root, Some(uid), Some(gid)).unwrap();

    let msg = unsafe_path(ManagedServer::new(&root).unwrap_err(), ".foresto");
    assert!(msg.contains(&root.display().to_string()), "{msg}");
    assert!(msg.contains("owned by"), "{msg}");

    // Found by the upward search from a project below it, the CLI refuses it too, in one line.
    let project = tmp.path().join("project").join("src");
    std::fs::create_dir_all(&project).unwrap();
    let out = foresto_at(&project, &["local", "status"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(stderr.contains(&root.display().to_string()), "{stderr}");
    assert!(stderr.contains("owned by"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(!root.join("pgdata").exists());
}

#[test]
fn a_group_or_world_writable_foresto_dir_is_refused() {
    for mode in [0o770, 0o777, 0o702] {
        let tmp = reachable_tempdir();
        let root = tmp.path().join(".foresto");
        make_dir(&root, mode);
        let msg = unsafe_path(ManagedServer::new(&root).unwrap_err(), &format!("{mode:o}"));
        assert!(msg.contains(&root.display().to_string()), "{msg}");
        assert!(msg.contains("writable"), "{msg}");
    }
}

#[test]
fn a_symlinked_foresto_dir_is_refused() {
    let tmp = reachable_tempdir();
    let elsewhere = tmp.path().join("elsewhere");
    make_dir(&elsewhere, 0o700);
    let root = tmp.path().join(".foresto");
    std::os::unix::fs::symlink(&elsewhere, &root).unwrap();
    let msg = unsafe_path(ManagedServer::new(&root).unwrap_err(), ".foresto");
    assert!(msg.contains("symbolic link"), "{msg}");
}

/// Creates the directory `path` with mode `mode`.
fn make_dir(path: &Path, mode: u32) {
    std::fs::create_dir(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The message of `err`, after asserting that it refuses an unsafe path (`context` says which
/// case failed).
fn unsafe_path(err: LocalServerError, context: &str) -> String {
    assert!(
        matches!(err, LocalServerError::UnsafePath { .. }),
        "{context}: {err:?}"
    );
    err.to_string()
}

/// A managed directory (mode 0700, ours) in which `name` is a symbolic link to `target`.
fn root_with_symlink(tmp: &Path, name: &str, target: &Path) -> PathBuf {
    let root = tmp.join(".foresto");
    make_dir(&root, 0o700);
    std::os::unix::fs::symlink(target, root.join(name)).unwrap();
    root
}

#[test]
fn symlinked_port_password_and_data_paths_are_not_followed() {
    for name in ["port", "password"] {
        let tmp = reachable_tempdir();
        let target = tmp.path().join("victim");
        std::fs::write(&target, "do not touch\n").unwrap();
        let root = root_with_symlink(tmp.path(), name, &target);
        let server = ManagedServer::new(&root).unwrap();
        let result = server.ensure_running();
        let _ = server.stop();
        let msg = unsafe_path(result.expect_err(name), name);
        assert!(
            msg.contains(&root.join(name).display().to_string()),
            "{msg}"
        );
        assert!(msg.contains("symbolic link"), "{msg}");
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "do not touch\n",
            "{name}: the link's target was written"
        );
        assert!(!root.join("pgdata").exists(), "{name}: went ahead anyway");
    }

    // The data directory: a link to an empty directory elsewhere is not initialised into.
    let tmp = reachable_tempdir();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let root = root_with_symlink(tmp.path(), "pgdata", &elsewhere);
    let server = ManagedServer::new(&root).unwrap();
    let result = server.ensure_running();
    let _ = server.stop();
    let msg = unsafe_path(result.expect_err("pgdata"), "pgdata");
    assert!(msg.contains("symbolic link"), "{msg}");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

// --- 3. no shell --------------------------------------------------------------------------------

#[tokio::test]
async fn a_local_dir_with_a_space_starts() {
    let tmp = reachable_tempdir();
    let parent = tmp.path().join("my projects");
    make_dir(&parent, 0o755);
    let running = Running::start(&parent.join(".foresto"));
    assert_eq!(select_one(&running.admin_url()).await, 1);
}

/// Gives every directory from `dir` up to (not including) `stop` mode 0755: `create_dir_all`
/// made them with the umask's mode, and the unprivileged server user must pass through them.
fn open_up_to(dir: &Path, stop: &Path) {
    let mut dir = dir.to_path_buf();
    while dir != stop {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir.pop();
    }
}

#[tokio::test]
async fn a_local_dir_with_shell_syntax_runs_no_command() {
    let tmp = reachable_tempdir();
    let dollar = marker_path("dollar");
    let backtick = marker_path("backtick");
    // `$(…)` and `…` run even inside a double-quoted shell word (as pg_ctl quotes -D).
    let nasty = format!(
        "a $(touch {}) b `touch {}` c",
        dollar.display(),
        backtick.display()
    );
    let parent = tmp.path().join(nasty);
    std::fs::create_dir_all(&parent).unwrap();
    open_up_to(&parent, tmp.path());
    let local_dir = parent.join(".foresto");

    // Through the CLI, as `FORESTO_LOCAL_DIR`.
    let start = foresto_in(tmp.path(), &local_dir, &["local", "start"])
        .output()
        .unwrap();
    let reset = foresto_in(tmp.path(), &local_dir, &["local", "reset", "--yes"])
        .output()
        .unwrap();
    let ran = (dollar.exists(), backtick.exists());
    let _ = std::fs::remove_file(&dollar);
    let _ = std::fs::remove_file(&backtick);
    assert_eq!(ran, (false, false), "a command in the path ran");
    assert!(start.status.success(), "{start:?}");
    assert!(reset.status.success(), "{reset:?}");
    let url = String::from_utf8_lossy(&start.stdout).trim().to_owned();
    assert!(url.starts_with("postgres://"), "{url}");

    // Through the library: started, reachable, and still no command.
    let running = Running::start(&local_dir);
    assert_eq!(select_one(&running.admin_url()).await, 1);
    drop(running);
    assert!(
        !dollar.exists() && !backtick.exists(),
        "a command in the path ran"
    );
}

#[tokio::test]
async fn a_local_dir_with_quotes_and_semicolons_starts() {
    let tmp = reachable_tempdir();
    let parent = tmp.path().join("it's \"quoted\"; x=1, y & z");
    std::fs::create_dir_all(&parent).unwrap();
    open_up_to(&parent, tmp.path());
    let running = Running::start(&parent.join(".foresto"));
    assert_eq!(select_one(&running.admin_url()).await, 1);
}
