//! How driver errors become [`AuthError`]s, and which ones are worth a
//! retry.

use std::future::Future;

use authkit_core::error::AuthError;

/// Attempts of one transaction that hits deadlocks, serialization failures
/// or a busy database before the error is reported.
const MAX_ATTEMPTS: u32 = 16;

/// What an error means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    /// The database cannot be reached or timed out: answer 503, retry later.
    Unavailable,
    /// A deadlock, serialization failure or busy database: run the
    /// transaction again.
    Transient,
    /// A unique constraint refused the write.
    UniqueViolation,
    /// Anything else: a bug or a schema mismatch.
    Other,
}

/// Classifies a driver error.
pub(crate) fn classify(err: &sqlx::Error) -> ErrorClass {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => ErrorClass::Unavailable,
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                return ErrorClass::UniqueViolation;
            }
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            if is_transient_code(code) || is_mysql_lock_wait_timeout(db.as_ref()) {
                ErrorClass::Transient
            } else if is_unavailable_code(code) {
                ErrorClass::Unavailable
            } else {
                ErrorClass::Other
            }
        }
        _ => ErrorClass::Other,
    }
}

/// SQLSTATE 40001 (serialization failure, also MySQL's deadlock), 40P01
/// (PostgreSQL deadlock), and SQLite's BUSY/LOCKED result codes (primary
/// code in the low byte of the extended one).
fn is_transient_code(code: &str) -> bool {
    if matches!(code, "40001" | "40P01") {
        return true;
    }
    code.parse::<i32>()
        .is_ok_and(|sqlite| matches!(sqlite & 0xff, 5 | 6))
}

/// SQLSTATE class 08 (connection exception), 57P01..57P03 (server shutting
/// down or starting) and 53300 (too many connections).
fn is_unavailable_code(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

/// MySQL's lock wait timeout (1205) has no specific SQLSTATE.
#[cfg(feature = "mysql")]
fn is_mysql_lock_wait_timeout(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .is_some_and(|e| e.number() == 1205)
}

#[cfg(not(feature = "mysql"))]
fn is_mysql_lock_wait_timeout(_db: &dyn sqlx::error::DatabaseError) -> bool {
    false
}

/// Maps a driver error to the error the service layer understands, keeping
/// the driver's error whole as its source (a host downcasts it to
/// [`sqlx::Error`]): an outage is `StoreUnavailable`, a malformed
/// configuration (say, the URL) `Internal`, anything else `Store`. The
/// driver's text goes to logs only; clients see the error code.
pub(crate) fn to_auth(err: sqlx::Error) -> AuthError {
    match classify(&err) {
        ErrorClass::Unavailable | ErrorClass::Transient => {
            tracing::warn!(error = %err, "authkit store unavailable");
            AuthError::store_unavailable(err)
        }
        ErrorClass::Other if matches!(err, sqlx::Error::Configuration(_)) => {
            AuthError::internal(err)
        }
        ErrorClass::UniqueViolation | ErrorClass::Other => {
            tracing::error!(error = %err, "authkit store error");
            AuthError::store(err)
        }
    }
}

/// Runs `op` (one whole transaction) again while it fails with a transient
/// error, up to [`MAX_ATTEMPTS`] times.
pub(crate) async fn retrying<T, F, Fut>(mut op: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Err(err) if attempt < MAX_ATTEMPTS && classify(&err) == ErrorClass::Transient => {
                backoff(attempt).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Rounds of a transaction that loses a unique-index race (two callers
/// inserting the same key at once) before the conflict is reported.
const MAX_CONFLICT_ROUNDS: u32 = 64;

/// Runs `op` (one whole transaction, itself [`retrying`] transient errors)
/// again while it fails with a unique violation, up to
/// [`MAX_CONFLICT_ROUNDS`] times. For transactions that insert a row they
/// found missing: when a concurrent caller inserted it first, the next
/// round finds it. Every round commits at least one caller, so the loop
/// ends.
pub(crate) async fn rerunning_on_conflict<T, F, Fut>(mut op: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut rounds = 0;
    loop {
        match retrying(&mut op).await {
            Err(err)
                if rounds < MAX_CONFLICT_ROUNDS
                    && classify(&err) == ErrorClass::UniqueViolation =>
            {
                rounds += 1;
                backoff(rounds).await;
            }
            result => return result,
        }
    }
}

/// Waits a random time, growing with `attempt` up to 64 ms, so the
/// transactions that collided do not collide again in lockstep.
async fn backoff(attempt: u32) {
    let ceiling_ms = 1u64 << attempt.min(6);
    let wait = rand::random::<u64>() % (ceiling_ms * 1000);
    tokio::time::sleep(std::time::Duration::from_micros(wait)).await;
}

/// A decoding error for a column whose stored value is not what the schema
/// promises; `err` (a parse error, or a message) is kept as its source.
pub(crate) fn corrupt(
    column: &str,
    err: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: err.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_unavailable() {
        for err in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        ] {
            assert_eq!(classify(&err), ErrorClass::Unavailable, "{err}");
            let auth = to_auth(err);
            assert!(matches!(auth, AuthError::StoreUnavailable(_)));
            let source = std::error::Error::source(&auth);
            assert!(source.is_some_and(|s| s.is::<sqlx::Error>()), "{auth:?}");
        }
    }

    #[test]
    fn other_driver_errors_are_store_errors_with_their_source() {
        for err in [
            sqlx::Error::RowNotFound,
            sqlx::Error::Protocol("bad".into()),
            corrupt("email", "not an email"),
        ] {
            assert_eq!(classify(&err), ErrorClass::Other, "{err}");
            let auth = to_auth(err);
            assert!(matches!(auth, AuthError::Store(_)));
            let source = std::error::Error::source(&auth);
            assert!(source.is_some_and(|s| s.is::<sqlx::Error>()), "{auth:?}");
        }
    }

    #[test]
    fn a_bad_configuration_is_internal() {
        let err = sqlx::Error::Configuration("invalid port".into());
        assert!(matches!(to_auth(err), AuthError::Internal(_)));
    }

    #[test]
    fn sqlstate_and_sqlite_codes_are_classified() {
        for transient in ["40001", "40P01", "5", "517", "6", "262"] {
            assert!(is_transient_code(transient), "{transient}");
        }
        for other in ["23505", "1", "19", "2067", "42P01", ""] {
            assert!(!is_transient_code(other), "{other}");
        }
        for down in ["08006", "08001", "57P01", "57P03", "53300"] {
            assert!(is_unavailable_code(down), "{down}");
        }
        assert!(!is_unavailable_code("42601"));
    }

    #[tokio::test]
    async fn retrying_stops_at_success_or_a_permanent_error() {
        let mut calls = 0;
        let result = retrying(|| {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(sqlx::Error::PoolTimedOut)
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert!(matches!(result, Err(sqlx::Error::PoolTimedOut)));
        assert_eq!(calls, 1, "unavailable is not retried");

        let mut calls = 0;
        let result: Result<(), _> = retrying(|| {
            calls += 1;
            async { Err(sqlx::Error::RowNotFound) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls, 1);
    }
}
