//! The SQL stores against the store conformance suite and their own
//! checks: migrations, availability and recovery, schema rules.
//!
//! SQLite always runs. PostgreSQL and MySQL run when
//! `AUTHKIT_TEST_POSTGRES_URL` / `AUTHKIT_TEST_MYSQL_URL` are set (each
//! test in a fresh schema or database, dropped when the test ends, passed or
//! failed; the first test of a run also sweeps any older than an hour that
//! a killed run left behind); without them their tests print why they skip
//! and pass, except under `CI=true`, where a missing URL or an unreachable
//! server fails. SQLite files are removed the same way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod databases;

/// Every conformance macro, base and capabilities, on one factory: the
/// SQL stores implement every store trait.
macro_rules! all_conformance_tests {
    ($factory:expr) => {
        authkit_core::store_conformance_tests!($factory);
        authkit_core::mfa_store_conformance_tests!($factory);
        authkit_core::identity_store_conformance_tests!($factory);
        authkit_core::org_store_conformance_tests!($factory);
        authkit_core::user_admin_store_conformance_tests!($factory);
    };
}

mod sqlite_memory {
    all_conformance_tests!(crate::databases::sqlite_memory());
}

mod sqlite_file {
    all_conformance_tests!(crate::databases::sqlite_file());
}

mod postgres {
    // Without a URL the factory `return`s from the generated test, which
    // then passes having printed why it skipped.
    all_conformance_tests!(match crate::databases::postgres_url() {
        Some(url) => crate::databases::postgres(url),
        None => return,
    });
}

mod mysql {
    all_conformance_tests!(match crate::databases::mysql_url() {
        Some(url) => crate::databases::mysql(url),
        None => return,
    });
}

mod availability;
mod migrations;
mod round_trips;
mod schema_rules;
mod sqlite_options;
