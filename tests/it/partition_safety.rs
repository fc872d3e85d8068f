//! Partition upkeep under concurrency and failure: two drops of one partition at once, a reply
//! lost after the server committed a drop, the parent staying usable while a partition is
//! archived, archives never written through symlinks nor over other files, drops cut off
//! part-way being found, finished or undone, and the DEFAULT-row move reporting only what it
//! moved.
//!
//! Failures are staged with a TCP proxy in front of the test server ([`Proxy`]) that can cut the
//! client off right after forwarding a chosen statement (the server still runs it: a lost reply,
//! or a dead client mid-step) or hold back the server's replies (a step that takes long).
//! Nothing here waits for a duration: blocked statements fail fast through `lock_timeout`, and
//! the tests wait for states (a lock queued, a session gone) by polling the catalog.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::support::{
    TestDatabase, archive_exists, count, date, exec, foresto, gunzip_csv, migrated_with, pool,
    strings,
};
use foresto::partitions::{
    self, DropRefusal, DroppedPartition, NotMoved, Parent, Retention, RowCounting, drop_partition,
};
use foresto::{Error, PartitionError};
use sea_orm::DatabaseConnection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Instruments 1 and 2 (SPY, TLT) and 60 more (X1…X60) whose prices fill January 2020.
const FIXTURE: &str = "
INSERT INTO instrument_master (instrument_type, ticker, exchange, currency)
VALUES ('ETF', 'SPY', 'NYSE', 'USD'), ('ETF', 'TLT', 'NASDAQ', 'USD');
INSERT INTO instrument_master (instrument_type, ticker, exchange, currency)
SELECT 'ETF', 'X' || g, 'NYSE', 'USD' FROM generate_series(1, 60) g;
INSERT INTO daily_price (instrument_id, trade_date, close_price, volume)
SELECT i.instrument_id, day::date, 10 + i.instrument_id, 1000
  FROM instrument_master i, generate_series(DATE '2020-01-01', DATE '2020-01-31', INTERVAL '1 day') day
 WHERE i.ticker LIKE 'X%';
";

/// Rows the fixture puts in `daily_price_202001`.
const JANUARY_ROWS: i64 = 60 * 31;

const JANUARY: &str = "daily_price_202001";

async fn database() -> TestDatabase {
    migrated_with(FIXTURE).await
}

fn retention() -> Retention {
    Retention::older_than(date(2020, 6, 15), 3).unwrap()
}

async fn table_exists(db: &DatabaseConnection, table: &str) -> bool {
    count(
        db,
        &format!("SELECT count(*) FROM pg_class WHERE relname = '{table}'"),
    )
    .await
        == 1
}

async fn attached_rows(db: &DatabaseConnection, partition: &str) -> i64 {
    count(
        db,
        &format!("SELECT count(*) FROM daily_price WHERE tableoid = '{partition}'::regclass"),
    )
    .await
}

/// The names in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Polls `condition` until it holds; panics (naming `what`) if it never does. For states that
/// another session reaches on its own (a lock queued, a session gone), never for timing.
async fn wait_for<F: AsyncFnMut() -> bool>(what: &str, mut condition: F) {
    for _ in 0..3000 {
        if condition().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

// --- a TCP proxy that stages failures -------------------------------------------------------

/// What the proxy does to the connection whose client sends the armed pattern.
#[derive(Debug, Clone, Copy)]
enum Action {
    /// Forward the message, then close the client's side: the server still runs it (and
    /// commits, for a `COMMIT`), the client only sees its connection drop.
    CutClient,
    /// Forward the message, then hold back everything the server sends on this connection until
    /// [`Proxy::release`].
    HoldReplies,
}

struct Rule {
    /// The pattern counts only after this one was seen on the same connection.
    after: Option<&'static str>,
    pattern: &'static str,
    action: Action,
}

struct Shared {
    upstream: String,
    rule: Mutex<Option<Rule>>,
    fired: watch::Sender<bool>,
    released: watch::Sender<bool>,
}

impl Shared {
    /// The armed action, if `seen` (everything this connection's client sent) completes its
    /// pattern; disarms it, so it fires once.
    fn take_matching(&self, seen: &[u8]) -> Option<Action> {
        let mut rule = self.rule.lock().unwrap();
        let armed = rule.as_ref()?;
        let from = match armed.after {
            Some(after) => find(seen, after.as_bytes())? + after.len(),
            None => 0,
        };
        find(&seen[from..], armed.pattern.as_bytes())?;
        let action = armed.action;
        *rule = None;
        self.fired.send_replace(true);
        Some(action)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

struct Proxy {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    /// A proxy in front of the server `url` points at.
    async fn start(url: &str) -> Self {
        let (_, upstream, _) = split_url(url);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream,
            rule: Mutex::new(None),
            fired: watch::channel(false).0,
            released: watch::channel(false).0,
        });
        let accepting = shared.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, accepting.clone()));
            }
        });
        Self { addr, shared }
    }

    /// A proxy in front of `t`'s server, and a connection to `t`'s database through it.
    async fn in_front_of(t: &TestDatabase) -> (Self, DatabaseConnection) {
        let proxy = Self::start(t.url()).await;
        let db = foresto::db::connect(&proxy.url(t.url()), &Default::default())
            .await
            .unwrap();
        (proxy, db)
    }

    /// `url` with the proxy in place of the server.
    fn url(&self, url: &str) -> String {
        let (head, _, tail) = split_url(url);
        format!("{head}{}{tail}", self.addr)
    }

    fn arm(&self, after: Option<&'static str>, pattern: &'static str, action: Action) {
        *self.shared.rule.lock().unwrap() = Some(Rule {
            after,
            pattern,
            action,
        });
    }

    fn fired(&self) -> bool {
        *self.shared.fired.borrow()
    }

    async fn wait_fired(&self) {
        let mut fired = self.shared.fired.subscribe();
        fired.wait_for(|f| *f).await.unwrap();
    }

    fn release(&self) {
        self.shared.released.send_replace(true);
    }
}

/// `(scheme and user up to the host, host:port, path and query)` of a PostgreSQL URL.
fn split_url(url: &str) -> (String, String, String) {
    let start = url.find("://").expect("a URL") + 3;
    let authority_end = url[start..].find('/').map_or(url.len(), |i| start + i);
    let host_start = url[start..authority_end]
        .rfind('@')
        .map_or(start, |i| start + i + 1);
    (
        url[..host_start].to_owned(),
        url[host_start..authority_end].to_owned(),
        url[authority_end..].to_owned(),
    )
}

async fn serve(client: tokio::net::TcpStream, shared: Arc<Shared>) {
    let Ok(server) = tokio::net::TcpStream::connect(&shared.upstream).await else {
        return;
    };
    let (mut client_read, client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let (hold, holding) = watch::channel(false);
    let (cut, mut cut_off) = watch::channel(false);

    let upstream = shared.clone();
    tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            seen.extend_from_slice(&buf[..n]);
            let action = upstream.take_matching(&seen);
            if let Some(Action::HoldReplies) = action {
                // Before forwarding, so that not even the first reply slips through.
                hold.send_replace(true);
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
            if let Some(Action::CutClient) = action {
                cut.send_replace(true);
                break;
            }
        }
        // Dropping the halves closes the client's side and sends the server an end of stream
        // after everything forwarded: it runs what it got, then ends the session.
    });

    let released = shared.released.subscribe();
    tokio::spawn(async move {
        let mut client_write = Some(client_write);
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = tokio::select! {
                r = server_read.read(&mut buf) => match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                },
                Ok(()) = cut_off.changed(), if client_write.is_some() => {
                    client_write = None;
                    continue;
                }
            };
            if *holding.borrow() {
                let mut released = released.clone();
                let _ = released.wait_for(|r| *r).await;
            }
            if *cut_off.borrow() {
                client_write = None;
            }
            // After a cut the server's replies are read and thrown away.
            if let Some(w) = client_write.as_mut()
                && w.write_all(&buf[..n]).await.is_err()
            {
                client_write = None;
            }
        }
    });
}

// --- retention ------------------------------------------------------------------------------

/// Drops January through `db`, archiving into `dir`, in a task of its own.
fn spawn_drop(db: &DatabaseConnection, dir: &Path) -> JoinHandle<Result<DroppedPartition, Error>> {
    let (db, dir) = (db.clone(), dir.to_owned());
    tokio::spawn(async move { drop_partition(&db, JANUARY, &retention(), Some(&dir)).await })
}

#[tokio::test]
async fn two_concurrent_drops_of_one_partition_leave_one_complete_archive() {
    let t = database().await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join(format!("{JANUARY}.csv.gz"));

    // A reader holds the parent, so that both drops are under way before either can detach.
    let mut reader = pool(t.conn()).begin().await.unwrap();
    sqlx::query("LOCK TABLE daily_price IN ACCESS SHARE MODE")
        .execute(&mut *reader)
        .await
        .unwrap();
    let (a, b) = (
        spawn_drop(t.conn(), dir.path()),
        spawn_drop(t.conn(), dir.path()),
    );
    wait_for("both drops waiting for the parent or finished", async || {
        let waiting = count(
            t.conn(),
            "SELECT count(*) FROM pg_locks WHERE relation = 'daily_price'::regclass AND NOT granted",
        )
        .await;
        let finished = i64::from(a.is_finished()) + i64::from(b.is_finished());
        waiting + finished >= 2
    })
    .await;
    reader.commit().await.unwrap();

    let (dropped, err) = match (a.await.unwrap(), b.await.unwrap()) {
        (Ok(dropped), Err(err)) | (Err(err), Ok(dropped)) => (dropped, err),
        other => panic!("exactly one drop must succeed: {other:?}"),
    };
    // The other one was refused at its claim, before it touched the partition or any file.
    assert!(
        matches!(
            &err,
            Error::Partition(PartitionError::DropRefused { partition, reason: DropRefusal::InProgress }) if partition == JANUARY
        ),
        "{err}"
    );
    assert_eq!(dropped.rows, JANUARY_ROWS);
    assert_eq!(dropped.archive.as_deref(), Some(archive.as_path()));
    assert!(!table_exists(t.conn(), JANUARY).await);
    assert_eq!(files_in(dir.path()), [format!("{JANUARY}.csv.gz")]);
    let (_, rows) = gunzip_csv(&archive);
    assert_eq!(
        rows.len() as i64,
        JANUARY_ROWS,
        "the archive holds every row"
    );
}

#[tokio::test]
async fn a_lost_reply_to_the_commit_of_a_drop_keeps_the_archive() {
    let t = database().await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join(format!("{JANUARY}.csv.gz"));
    let (proxy, db) = Proxy::in_front_of(&t).await;

    // The server gets the COMMIT that follows the DROP and commits; the client sees its
    // connection drop instead of the reply.
    proxy.arm(Some("DROP TABLE"), "COMMIT", Action::CutClient);
    let result = drop_partition(&db, JANUARY, &retention(), Some(dir.path())).await;
    assert!(proxy.fired());
    // The drop cannot know whether its commit went through, so it says the rows may still be
    // in the detached table, and touches neither that nor the archive.
    assert!(
        matches!(&result, Err(Error::Partition(PartitionError::DropUnfinished { partition, .. })) if partition == JANUARY),
        "{result:?}"
    );
    wait_for("the drop committed on the server", async || {
        count(
            t.conn(),
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'daily\\_price\\_202001%'",
        )
        .await
            == 0
    })
    .await;

    assert!(
        archive.exists(),
        "the partition is gone: its archive must stay"
    );
    let (_, rows) = gunzip_csv(&archive);
    assert_eq!(rows.len() as i64, JANUARY_ROWS);
    assert_eq!(files_in(dir.path()), [format!("{JANUARY}.csv.gz")]);
}

/// Starts dropping January into `dir` through a proxy that forwards the archive's COPY to the
/// server but holds back its data; returns once the drop is mid-archive, with the proxy (to
/// [`Proxy::release`]) and the drop's task.
async fn drop_held_mid_archive(
    t: &TestDatabase,
    dir: &Path,
) -> (Proxy, JoinHandle<Result<DroppedPartition, Error>>) {
    let (proxy, db) = Proxy::in_front_of(t).await;
    proxy.arm(None, "COPY ", Action::HoldReplies);
    let drop_task = spawn_drop(&db, dir);
    proxy.wait_fired().await;
    (proxy, drop_task)
}

#[tokio::test]
async fn the_parent_is_not_locked_while_a_partition_is_archived() {
    let t = database().await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join(format!("{JANUARY}.csv.gz"));
    let (proxy, drop_task) = drop_held_mid_archive(&t, dir.path()).await;

    // Writers and readers of the parent go on: with a lock_timeout a blocked statement fails
    // instead of waiting for the archive.
    let mut session = pool(t.conn()).begin().await.unwrap();
    for sql in [
        "SET LOCAL lock_timeout = '2s'",
        "INSERT INTO daily_price (instrument_id, trade_date, close_price) VALUES (1, '2024-05-02', 10)",
        "UPDATE daily_price SET volume = 1 WHERE trade_date = '2020-02-03'",
        "SELECT count(*) FROM daily_price",
        "SELECT count(*) FROM daily_price_default",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *session)
            .await
            .unwrap_or_else(|e| panic!("{sql}: blocked by the archive: {e}"));
    }
    session.commit().await.unwrap();
    // The drop's session holds no lock on the parent nor on any partition attached to it.
    let held = strings(
        t.conn(),
        "SELECT l.relation::regclass::text || ' ' || l.mode
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE a.query LIKE 'COPY %' AND a.datname = current_database()
            AND l.relation IN (SELECT 'daily_price'::regclass
                               UNION ALL SELECT inhrelid FROM pg_inherits
                                          WHERE inhparent = 'daily_price'::regclass)",
    )
    .await;
    assert!(held.is_empty(), "{held:?}");
    assert!(
        !archive.exists(),
        "no archive under its name before it is complete"
    );

    proxy.release();
    let dropped = drop_task.await.unwrap().unwrap();
    assert_eq!(dropped.rows, JANUARY_ROWS);
    assert_eq!(gunzip_csv(&archive).1.len() as i64, JANUARY_ROWS);
    assert_eq!(
        count(
            t.conn(),
            "SELECT count(*) FROM daily_price WHERE trade_date = '2024-05-02'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_symlink_at_the_temporary_name_is_not_followed() {
    let t = database().await;
    let dir = tempfile::tempdir().unwrap();
    let archive_dir = dir.path().join("archive");
    std::fs::create_dir(&archive_dir).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"keep me").unwrap();
    std::os::unix::fs::symlink(
        &victim,
        archive_dir.join(format!(".{JANUARY}.csv.gz.partial")),
    )
    .unwrap();

    let err = drop_partition(t.conn(), JANUARY, &retention(), Some(&archive_dir))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
    assert!(!archive_dir.join(format!("{JANUARY}.csv.gz")).exists());
    assert_eq!(attached_rows(t.conn(), JANUARY).await, JANUARY_ROWS);
}

#[tokio::test]
async fn an_archive_that_appears_meanwhile_is_not_replaced() {
    let t = database().await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join(format!("{JANUARY}.csv.gz"));
    let (proxy, drop_task) = drop_held_mid_archive(&t, dir.path()).await;
    // Another process writes the same archive name while this drop copies.
    std::fs::write(&archive, b"another process's archive").unwrap();
    proxy.release();

    let err = drop_task.await.unwrap().unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Partition(PartitionError::DropRefused { reason: DropRefusal::ArchiveExists { path }, .. }) if *path == archive
        ),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&archive).unwrap(),
        b"another process's archive"
    );
    assert_eq!(files_in(dir.path()), [format!("{JANUARY}.csv.gz")]);
    assert_eq!(
        attached_rows(t.conn(), JANUARY).await,
        JANUARY_ROWS,
        "attached again, rows intact"
    );
}

/// Waits until no session of this database holds an advisory lock: a drop whose client was cut
/// off keeps its claim until the server ends the session.
async fn claims_released(t: &TestDatabase) {
    wait_for("the cut-off drop's session ended", async || {
        count(
            t.conn(),
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .await
            == 0
    })
    .await;
}

/// Drops January through `proxy`, which cuts the client off once it sends `pattern`; returns
/// the error, after the server ended the cut-off session.
async fn cut_off_drop(t: &TestDatabase, dir: &Path, pattern: &'static str) -> Error {
    let (proxy, db) = Proxy::in_front_of(t).await;
    proxy.arm(None, pattern, Action::CutClient);
    let err = drop_partition(&db, JANUARY, &retention(), Some(dir))
        .await
        .unwrap_err();
    assert!(proxy.fired());
    claims_released(t).await;
    err
}

#[tokio::test]
async fn a_drop_cut_off_while_archiving_leaves_a_table_that_reattach_restores() {
    let t = database().await;
    let dir = tempfile::tempdir().unwrap();
    let err = cut_off_drop(&t, dir.path(), "COPY ").await;
    assert!(
        matches!(
            &err,
            Error::Partition(PartitionError::DropUnfinished { partition, table, .. })
                if partition == JANUARY && table == "daily_price_202001_detached"
        ),
        "{err}"
    );
    assert!(
        files_in(dir.path()).is_empty(),
        "the drop removed its own temporary file"
    );
    assert!(!table_exists(t.conn(), JANUARY).await);
    let detached = partitions::detached_partitions(t.conn(), RowCounting::Exact)
        .await
        .unwrap();
    let found: Vec<_> = detached
        .iter()
        .map(|p| {
            (
                p.parent,
                p.partition.as_str(),
                p.table.as_str(),
                p.month,
                p.rows,
            )
        })
        .collect();
    assert_eq!(
        found,
        [(
            Parent::DailyPrice,
            JANUARY,
            "daily_price_202001_detached",
            date(2020, 1, 1),
            Some(JANUARY_ROWS)
        )]
    );

    // Meanwhile a row of January lands in DEFAULT; reattaching takes it along.
    exec(
        t.conn(),
        "INSERT INTO daily_price (instrument_id, trade_date, close_price) VALUES (1, '2020-01-15', 10)",
    )
    .await;
    let back = partitions::reattach_partition(t.conn(), JANUARY)
        .await
        .unwrap();
    assert_eq!((back.name.as_str(), back.rows_from_default), (JANUARY, 1));
    assert_eq!(attached_rows(t.conn(), JANUARY).await, JANUARY_ROWS + 1);
    assert_eq!(
        count(t.conn(), "SELECT count(*) FROM daily_price_default").await,
        0
    );
    assert!(
        partitions::detached_partitions(t.conn(), RowCounting::Exact)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        count(
            t.conn(),
            "SELECT count(*) FROM pg_description WHERE objoid = 'daily_price_202001'::regclass"
        )
        .await
            + count(
                t.conn(),
                "SELECT count(*) FROM pg_constraint WHERE conrelid = 'daily_price_202001'::regclass AND contype = 'c'"
            )
            .await,
        0,
        "no marker comment or helper constraint left"
    );

    // A partition again in every respect: dropping it now goes through.
    let dropped = drop_partition(t.conn(), JANUARY, &retention(), Some(dir.path()))
        .await
        .unwrap();
    assert_eq!(dropped.rows, JANUARY_ROWS + 1);
    let archive = dir.path().join(format!("{JANUARY}.csv.gz"));
    assert_eq!(gunzip_csv(&archive).1.len() as i64, JANUARY_ROWS + 1);
}

#[tokio::test]
async fn a_drop_cut_off_after_its_archive_is_finished_by_the_next_drop() {
    let t = database().await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join(format!("{JANUARY}.csv.gz"));
    // Cut off as the DROP goes out: the server rolls it back when the session ends.
    let err = cut_off_drop(&t, dir.path(), "DROP TABLE").await;
    assert!(
        matches!(
            &err,
            Error::Partition(PartitionError::DropUnfinished { .. })
        ),
        "{err}"
    );
    assert_eq!(files_in(dir.path()), [format!("{JANUARY}.csv.gz")]);
    assert_eq!(gunzip_csv(&archive).1.len() as i64, JANUARY_ROWS);
    assert!(table_exists(t.conn(), "daily_price_202001_detached").await);
    let written = std::fs::read(&archive).unwrap();

    // The next drop finds the detached table, checks the archive holds exactly its rows, keeps
    // the archive as it is and drops the table.
    let dropped = drop_partition(t.conn(), JANUARY, &retention(), Some(dir.path()))
        .await
        .unwrap();
    assert_eq!(
        (dropped.name.as_str(), dropped.rows),
        (JANUARY, JANUARY_ROWS)
    );
    assert_eq!(std::fs::read(&archive).unwrap(), written);
    assert!(!table_exists(t.conn(), "daily_price_202001_detached").await);
    assert!(!table_exists(t.conn(), JANUARY).await);
    assert_eq!(files_in(dir.path()), [format!("{JANUARY}.csv.gz")]);
}

#[tokio::test]
async fn finishing_a_drop_never_accepts_a_different_archive() {
    let t = database().await;
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join(format!("{JANUARY}.csv.gz"));
    cut_off_drop(&t, dir.path(), "COPY ").await;
    std::fs::write(&archive, b"not this partition's rows").unwrap();

    let err = drop_partition(t.conn(), JANUARY, &retention(), Some(dir.path()))
        .await
        .unwrap_err();
    archive_exists(&err);
    assert_eq!(
        std::fs::read(&archive).unwrap(),
        b"not this partition's rows"
    );
    assert_eq!(
        attached_rows(t.conn(), JANUARY).await,
        JANUARY_ROWS,
        "attached again, rows intact"
    );
    assert!(
        partitions::detached_partitions(t.conn(), RowCounting::Exact)
            .await
            .unwrap()
            .is_empty()
    );
}

// --- DEFAULT rows ---------------------------------------------------------------------------

/// A hand-made partition holds the name `create_monthly_partitions` would give March 2041 but
/// only its first days, so rows of later March days sit in DEFAULT and no monthly partition can
/// be made for them; April's rows can move.
const NAME_TAKEN: &str = "
CREATE TABLE daily_price_204103 PARTITION OF daily_price FOR VALUES FROM ('2041-03-01') TO ('2041-03-10');
INSERT INTO daily_price (instrument_id, trade_date, close_price)
VALUES (1, '2041-03-20', 10), (2, '2041-03-21', 11), (1, '2041-04-01', 12);
";

#[tokio::test]
async fn moving_default_rows_reports_only_the_rows_that_moved() {
    let t = database().await;
    exec(t.conn(), NAME_TAKEN).await;
    let moved = partitions::move_default_rows(t.conn()).await.unwrap();
    let summary: Vec<_> = moved
        .iter()
        .map(|r| format!("{} {} {}", r.parent, r.month, r.rows))
        .collect();
    assert_eq!(summary, ["daily_price 2041-04-01 1"]);
    assert_eq!(
        count(t.conn(), "SELECT count(*) FROM daily_price_default").await,
        2,
        "March's rows had nowhere to go"
    );

    // The report says what stayed and why.
    exec(
        t.conn(),
        "INSERT INTO daily_price (instrument_id, trade_date, close_price) VALUES (1, '2041-08-01', 12)",
    )
    .await;
    let report = partitions::move_default_rows_report(t.conn())
        .await
        .unwrap();
    let moved: Vec<_> = report
        .moved
        .iter()
        .map(|r| format!("{} {} {}", r.partition, r.month, r.rows))
        .collect();
    assert_eq!(moved, ["daily_price_default 2041-08-01 1"]);
    assert_eq!(report.left.len(), 1);
    let left = &report.left[0];
    assert_eq!(
        (left.parent, left.partition.as_str(), left.month, left.rows),
        (
            Parent::DailyPrice,
            "daily_price_default",
            date(2041, 3, 1),
            2
        )
    );
    assert_eq!(
        left.reason,
        NotMoved::NameTaken {
            existing: "daily_price_204103".to_owned(),
            bound: "FOR VALUES FROM ('2041-03-01') TO ('2041-03-10')".to_owned()
        }
    );
}

#[tokio::test]
async fn a_month_the_database_refuses_does_not_hide_the_months_that_moved() {
    let t = database().await;
    // A hand-made partition overlaps May 2041, so its monthly partition cannot be created.
    exec(
        t.conn(),
        "CREATE TABLE daily_price_hand PARTITION OF daily_price FOR VALUES FROM ('2041-05-15') TO ('2041-06-15');
         INSERT INTO daily_price (instrument_id, trade_date, close_price)
         VALUES (1, '2041-04-01', 12), (1, '2041-05-02', 13), (1, '2041-07-01', 14);",
    )
    .await;
    let moved = partitions::move_default_rows(t.conn()).await.unwrap();
    let summary: Vec<_> = moved
        .iter()
        .map(|r| format!("{} {} {}", r.parent, r.month, r.rows))
        .collect();
    assert_eq!(
        summary,
        ["daily_price 2041-04-01 1", "daily_price 2041-07-01 1"]
    );
    assert_eq!(
        strings(
            t.conn(),
            "SELECT trade_date::text FROM daily_price_default ORDER BY 1"
        )
        .await,
        ["2041-05-02"]
    );
    let report = partitions::move_default_rows_report(t.conn())
        .await
        .unwrap();
    assert!(report.moved.is_empty());
    assert_eq!(report.left.len(), 1);
    assert_eq!(
        (report.left[0].month, report.left[0].rows),
        (date(2041, 5, 1), 1)
    );
    assert!(
        matches!(&report.left[0].reason, NotMoved::Refused { error } if error.contains("overlap")),
        "{:?}",
        report.left[0].reason
    );
}

// --- the commands ---------------------------------------------------------------------------

#[tokio::test]
async fn cli_check_default_move_fails_when_rows_stay_and_says_which() {
    let t = database().await;
    exec(t.conn(), NAME_TAKEN).await;
    let out = foresto(&t, &["partitions", "check-default", "--move", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["rows"], 1, "{json}");
    assert_eq!(json["months"][0]["month"], "2041-04-01");
    assert_eq!(json["left"][0]["month"], "2041-03-01");
    assert_eq!(json["left"][0]["rows"], 2);
    assert_eq!(json["left"][0]["reason"]["kind"], "name_taken");
    assert_eq!(json["left"][0]["reason"]["existing"], "daily_price_204103");
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "partitions: moved 1 rows from DEFAULT into 1 monthly partitions; 2 rows of 1 months stay in DEFAULT",
            "error: 2 rows of 1 months could not be moved out of DEFAULT partitions (see the report)"
        ]
    );
}

#[tokio::test]
async fn cli_lists_and_finishes_a_drop_that_stopped_part_way() {
    let t = database().await;
    let dir = tempfile::tempdir().unwrap();
    cut_off_drop(&t, dir.path(), "COPY ").await;

    let out = foresto(&t, &["partitions", "list", "--estimate"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("daily_price_202001_detached (daily_price 2020-01")
            && stderr.contains("`partitions reattach daily_price_202001` undoes it"),
        "{stderr}"
    );

    let archive_dir = dir.path().to_str().unwrap();
    let out = foresto(
        &t,
        &[
            "partitions",
            "drop",
            "--older-than-months",
            "1",
            "--partition",
            JANUARY,
            "--archive",
            archive_dir,
            "--json",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["partitions"][0]["name"], JANUARY, "{json}");
    assert_eq!(json["partitions"][0]["rows"], JANUARY_ROWS);
    let archive = dir.path().join(format!("{JANUARY}.csv.gz"));
    assert_eq!(gunzip_csv(&archive).1.len() as i64, JANUARY_ROWS);
    assert!(!table_exists(t.conn(), "daily_price_202001_detached").await);
}
