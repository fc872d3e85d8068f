//! TLS through the library's own connect (sqlx with rustls): each `sslmode` of a URL checks
//! what it promises, against a server of the test's own serving a certificate of a CA the test
//! makes with the `openssl` command; a server without TLS asked for it is a clear error.

use std::path::{Path, PathBuf};
use std::process::Command;

use foresto::settings::PoolSettings;
use foresto::testing::{TestServer, TestServerOptions};
use foresto::{DatabaseError, Error};

use crate::support::{TestDatabase, invalid_input, pool};

/// Runs `openssl` in `dir` with the words of `args` (none holds a space) and panics with its
/// output if it fails.
fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args.split_whitespace())
        .output()
        .expect("the openssl command is installed");
    assert!(
        out.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new P-256 key, as `openssl req` takes it.
const NEW_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";

/// A certificate authority of the test's own: `<name>.crt` and `<name>.key` in a directory.
struct Ca {
    dir: tempfile::TempDir,
    name: &'static str,
}

impl Ca {
    fn new(name: &'static str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        openssl(
            dir.path(),
            &format!(
                "req -x509 {NEW_KEY} -days 2 -subj /CN=Foresto-test-{name} \
                 -keyout {name}.key -out {name}.crt"
            ),
        );
        Self { dir, name }
    }

    /// The CA's certificate, what `sslrootcert` names.
    fn cert(&self) -> PathBuf {
        self.dir.path().join(format!("{}.crt", self.name))
    }

    /// A server certificate and key (PEM) signed by this CA for `subject_alt_names`
    /// (`DNS:localhost`, `IP:127.0.0.1`, …).
    fn issue(&self, subject_alt_names: &str) -> (Vec<u8>, Vec<u8>) {
        let dir = self.dir.path();
        let ext = format!(
            "subjectAltName={subject_alt_names}\nextendedKeyUsage=serverAuth\n\
             basicConstraints=CA:FALSE\n"
        );
        std::fs::write(dir.join("server.ext"), ext).unwrap();
        let ca = self.name;
        openssl(
            dir,
            &format!("req {NEW_KEY} -subj /CN=localhost -keyout server.key -out server.csr"),
        );
        openssl(
            dir,
            &format!(
                "x509 -req -in server.csr -CA {ca}.crt -CAkey {ca}.key -CAcreateserial -days 2 \
                 -extfile server.ext -out server.crt"
            ),
        );
        (
            std::fs::read(dir.join("server.crt")).unwrap(),
            std::fs::read(dir.join("server.key")).unwrap(),
        )
    }
}

/// A server of its own serving a certificate signed by `ca` for `subject_alt_names`.
fn tls_server(ca: &Ca, subject_alt_names: &str) -> TestServer {
    TestServer::start(&TestServerOptions {
        certificate: Some(ca.issue(subject_alt_names)),
        ..Default::default()
    })
}

/// `server`'s URL with `host` in place of `127.0.0.1` and `params` as its query.
fn url(server: &TestServer, host: &str, params: &str) -> String {
    let url = server
        .admin_url()
        .replace("@127.0.0.1:", &format!("@{host}:"));
    format!("{url}?{params}")
}

/// Connects through `foresto::db::connect` and tells whether the session is encrypted.
async fn connect(url: &str) -> Result<bool, Error> {
    let db = foresto::db::connect(url, &PoolSettings::default()).await?;
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(pool(&db))
            .await
            .unwrap();
    db.close().await.unwrap();
    Ok(encrypted)
}

/// The message of a failed connection, which must be a `DatabaseError::Connection`.
async fn refused(url: &str) -> String {
    match connect(url).await {
        Err(e @ Error::Database(DatabaseError::Connection { .. })) => e.to_string(),
        other => panic!("{url}: expected a connection error, got {other:?}"),
    }
}

#[tokio::test]
async fn each_sslmode_checks_what_it_promises() {
    let ca = Ca::new("ca");
    let stranger = Ca::new("other-ca");
    let server = tls_server(&ca, "DNS:localhost");
    let root = |ca: &Ca| format!("sslrootcert={}", ca.cert().display());

    // No sslmode (prefer) and `require` encrypt without checking whose certificate it is.
    assert!(connect(&url(&server, "127.0.0.1", "")).await.unwrap());
    assert!(
        connect(&url(&server, "127.0.0.1", "sslmode=require"))
            .await
            .unwrap()
    );
    // `disable` does not encrypt, and the server still asks for the password.
    assert!(
        !connect(&url(&server, "127.0.0.1", "sslmode=disable"))
            .await
            .unwrap()
    );

    // verify-ca: signed by the CA named, whatever the host.
    let ca_ok = format!("sslmode=verify-ca&{}", root(&ca));
    assert!(connect(&url(&server, "127.0.0.1", &ca_ok)).await.unwrap());
    let wrong_ca = refused(&url(
        &server,
        "127.0.0.1",
        &format!("sslmode=verify-ca&{}", root(&stranger)),
    ))
    .await;
    assert!(wrong_ca.contains("certificate"), "{wrong_ca}");
    // Without sslrootcert only the built-in public roots are trusted, and our CA is not one.
    let no_root = refused(&url(&server, "127.0.0.1", "sslmode=verify-ca")).await;
    assert!(no_root.contains("certificate"), "{no_root}");

    // verify-full: and issued for the host the URL names.
    let full = format!("sslmode=verify-full&{}", root(&ca));
    assert!(connect(&url(&server, "localhost", &full)).await.unwrap());
    let other_host = refused(&url(&server, "127.0.0.1", &full)).await;
    assert!(other_host.contains("not valid for name"), "{other_host}");
    let wrong_ca_full = refused(&url(
        &server,
        "localhost",
        &format!("sslmode=verify-full&{}", root(&stranger)),
    ))
    .await;
    assert!(wrong_ca_full.contains("certificate"), "{wrong_ca_full}");
}

#[tokio::test]
async fn verify_full_accepts_an_ip_address_only_when_the_certificate_names_it() {
    let ca = Ca::new("ca");
    let server = tls_server(&ca, "DNS:localhost,IP:127.0.0.1");
    let full = format!("sslmode=verify-full&sslrootcert={}", ca.cert().display());
    assert!(connect(&url(&server, "127.0.0.1", &full)).await.unwrap());
    assert!(connect(&url(&server, "localhost", &full)).await.unwrap());
}

#[tokio::test]
async fn requiring_tls_from_a_server_without_it_says_so_in_one_line() {
    // The shared test server has no certificate, so it answers the TLS request with "no".
    let t = TestDatabase::migrated().await;
    for mode in ["require", "verify-ca", "verify-full"] {
        let url = format!("{}?sslmode={mode}", t.url());
        let err = foresto::db::connect(&url, &PoolSettings::default())
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, Error::Database(DatabaseError::Connection { .. })),
            "{err:?}"
        );
        assert!(err.is_connection());
        assert!(
            text.contains(&format!("TLS was required (sslmode={mode})"))
                && text.contains("does not support it"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
    }
    // `prefer` (the default) falls back to an unencrypted session there.
    assert!(
        !connect(&format!("{}?sslmode=prefer", t.url()))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_misspelt_sslmode_is_invalid_input_not_a_silent_downgrade() {
    let t = TestDatabase::migrated().await;
    let err = foresto::db::connect(
        &format!("{}?sslmode=verify_full", t.url()),
        &PoolSettings::default(),
    )
    .await
    .unwrap_err();
    let text = invalid_input(&err, "database URL");
    assert!(text.contains("verify_full"), "{text}");
    assert!(!err.is_connection());
}

#[tokio::test]
async fn a_missing_sslrootcert_file_is_named_before_anything_is_connected_to() {
    let t = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.crt");
    let url = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        t.url(),
        missing.display()
    );
    let err = foresto::db::connect(&url, &PoolSettings::default())
        .await
        .unwrap_err();
    let text = invalid_input(&err, "database URL");
    assert!(
        text.contains(&format!("sslrootcert={}", missing.display()))
            && text.contains("No such file"),
        "{text}"
    );
}
