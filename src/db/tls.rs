//! What a failed TLS connection means, in words a user can act on.
//!
//! TLS itself is sqlx's (rustls with the webpki root certificates, no system OpenSSL): the URL's
//! `sslmode` and `sslrootcert` choose what is checked. This module only names the failures sqlx
//! reports too tersely to act on: a certificate file the URL names that cannot be read, and a
//! URL that requires TLS of a server that does not offer it.

use std::sync::Arc;

use sea_orm::{DbErr, RuntimeErr};
use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::error::{DatabaseError, Error};

/// What sqlx says (its whole message) when a server answers the TLS request with "no". sqlx
/// has no variant of its own for it; the TLS tests fail should the wording change.
const SERVER_WITHOUT_TLS: &str = "server does not support TLS";

/// A server that does not support TLS, asked for it by a URL that requires it.
#[derive(Debug, thiserror::Error)]
#[error(
    "TLS was required (sslmode={mode}) and the server at {host}:{port} does not support it \
     (enable ssl on the server, or connect to one that has it)"
)]
pub struct TlsNotSupported {
    /// The URL's `sslmode`: `require`, `verify-ca` or `verify-full`.
    pub mode: &'static str,
    /// The server asked, as the URL names it.
    pub host: String,
    pub port: u16,
    /// sqlx's own error.
    #[source]
    pub source: DbErr,
}

/// The URL parameters that name a certificate or key file (libpq's names and sqlx's aliases).
const FILE_PARAMETERS: [&str; 7] = [
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
];

/// Checks that every certificate or key file `url` names can be opened; sqlx would otherwise
/// fail the connection with the bare I/O error ("No such file or directory"), naming no file.
/// (A value holding the PEM text itself, which sqlx also takes, is not a file.)
///
/// # Errors
/// [`Error::InvalidInput`] (field `database URL`) naming the parameter, the file and why.
pub(super) async fn check_files(url: &str) -> Result<(), Error> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Ok(());
    };
    for (key, value) in parsed.query_pairs() {
        if !FILE_PARAMETERS.contains(&&*key) || value.trim_start().starts_with("-----BEGIN") {
            continue;
        }
        if let Err(e) = tokio::fs::File::open(&*value).await {
            return Err(Error::invalid(
                "database URL",
                format!("{key}={value} cannot be read: {e}"),
            ));
        }
    }
    Ok(())
}

/// The `sslmode` value of the modes that refuse a connection without TLS.
fn required_mode(mode: PgSslMode) -> Option<&'static str> {
    match mode {
        PgSslMode::Require => Some("require"),
        PgSslMode::VerifyCa => Some("verify-ca"),
        PgSslMode::VerifyFull => Some("verify-full"),
        PgSslMode::Disable | PgSslMode::Allow | PgSslMode::Prefer => None,
    }
}

/// `err`, from connecting with `target`, as a typed error; a server that refused the TLS the
/// URL requires becomes a [`DatabaseError::Connection`] whose message says so (and whose
/// driver error is a [`sqlx::Error::Tls`] holding a [`TlsNotSupported`]).
pub(super) fn explain(err: DbErr, target: &PgConnectOptions) -> Error {
    let refused = matches!(
        &err,
        DbErr::Conn(RuntimeErr::SqlxError(e))
            if matches!(&**e, sqlx::Error::Tls(tls) if tls.to_string() == SERVER_WITHOUT_TLS)
    );
    match required_mode(target.get_ssl_mode()) {
        Some(mode) if refused => {
            let named = TlsNotSupported {
                mode,
                host: target.get_host().to_owned(),
                port: target.get_port(),
                source: err,
            };
            DatabaseError::Connection {
                source: DbErr::Conn(RuntimeErr::SqlxError(Arc::new(sqlx::Error::Tls(Box::new(
                    named,
                ))))),
            }
            .into()
        }
        _ => err.into(),
    }
}
