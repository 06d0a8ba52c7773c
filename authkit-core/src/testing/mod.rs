//! The store conformance suite: the contracts of the store traits as
//! executable checks, for every backend to run (the in-memory store, the SQL
//! stores, and any store you write).
//!
//! Each check is an `async fn(Store)` that takes a fresh, empty store,
//! exercises one contract and panics with a message naming the broken rule.
//! The usual way to run them is
//! [`store_conformance_tests!`](crate::store_conformance_tests) (the base
//! contract), plus one macro per feature store trait the backend
//! implements, each expanding to a module of `#[tokio::test]`s, one per
//! check, in the calling module:
//!
//! ```
//! use authkit_core::store::{MemoryStore, Store};
//!
//! authkit_core::store_conformance_tests!(async { Store::new(MemoryStore::new()) });
//! authkit_core::mfa_store_conformance_tests!(async { Store::new(MemoryStore::new()) });
//! authkit_core::org_store_conformance_tests!(async { Store::new(MemoryStore::new()) });
//! ```
//!
//! The factory is an expression evaluated once per check that yields a
//! future of a [`Store`]; it should return an isolated store (a new database
//! or schema for SQL backends), optionally paired with a guard that removes
//! it again when the check is over (see [`Fixture`]). The checks also use fresh emails, ids and
//! token hashes, so most of them tolerate a shared store; the audit, key and
//! purge checks count rows and need isolation.
//!
//! The checks can also be called directly, e.g. to run one of them under a
//! custom runtime: `authkit_core::testing::users_are_found_by_id_and_email(store).await`.
//! The concurrency checks spawn tasks and are only meaningful on a
//! multi-threaded runtime.
//!
//! [`Store`]: crate::store::Store
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit_log;
pub(crate) mod fixtures;
mod keys;
mod services;
mod sessions;
mod tokens;
mod users;

pub use crate::admin::conformance::*;
pub use crate::mfa::conformance::*;
pub use crate::orgs::conformance::*;
pub use crate::social::conformance::*;
pub use audit_log::*;
pub use keys::*;
pub use services::service_url;
pub use sessions::*;
pub use tokens::*;
pub use users::*;

/// What a conformance factory yields: a [`Store`](crate::store::Store), or
/// a `(Store, guard)` pair whose guard is kept until the check is over,
/// whether it passed or panicked. A guard that drops the test's schema or
/// database on `Drop` leaves nothing behind on a shared server.
pub trait Fixture {
    /// What is kept alive beside the store.
    type Guard;

    /// The store to check, and the guard.
    fn split(self) -> (crate::store::Store, Self::Guard);
}

impl Fixture for crate::store::Store {
    type Guard = ();

    fn split(self) -> (crate::store::Store, ()) {
        (self, ())
    }
}

impl<G> Fixture for (crate::store::Store, G) {
    type Guard = G;

    fn split(self) -> (crate::store::Store, G) {
        self
    }
}

/// Records the `tracing` events of the current thread, for tests proving
/// that secrets never reach the logs.
pub use crate::mail::captured_logs::CapturedLogs;

/// The runtime the generated tests run on, so callers need not depend on it.
#[doc(hidden)]
pub use tokio;

/// Expands to one `#[tokio::test]` (multi-threaded, 4 workers) per check
/// of the base store contract (accounts, sessions and refresh rotation,
/// one-time tokens, the audit log, signing keys), each running the check
/// on a store from `$factory`, in a module `base_store_conformance`.
///
/// `$factory` is an expression evaluated afresh for every test, whose value
/// is a future yielding a [`Store`](crate::store::Store), typically an
/// `async { ... }` block, or a `(Store, guard)` pair (see [`Fixture`]) to
/// clean up after the check. The crate invoking the macro needs no tokio
/// dependency of its own. Invoke it at most once per module; a store that
/// also implements a feature's store trait adds that feature's macro
/// ([`mfa_store_conformance_tests!`](crate::mfa_store_conformance_tests),
/// [`identity_store_conformance_tests!`](crate::identity_store_conformance_tests),
/// [`org_store_conformance_tests!`](crate::org_store_conformance_tests),
/// [`user_admin_store_conformance_tests!`](crate::user_admin_store_conformance_tests))
/// with the same factory.
///
/// ```
/// authkit_core::store_conformance_tests!(async {
///     authkit_core::store::Store::new(authkit_core::store::MemoryStore::new())
/// });
/// ```
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr $(,)?) => {
        $crate::store_conformance_tests!(@checks base_store_conformance, $factory;
            // Users.
            users_are_found_by_id_and_email,
            emails_are_unique_after_normalization,
            concurrent_registrations_of_one_email_create_one_user,
            update_user_sets_only_the_fields_it_names,
            conditional_updates_apply_only_while_their_condition_holds,
            update_user_of_an_unknown_account_is_not_found,
            concurrent_password_change_and_deactivation_both_stay,
            phone_lookup_ignores_unverified_phones,
            login_failures_count_within_the_window_and_lock,
            concurrent_login_failures_all_count,
            login_failures_of_an_unknown_account_are_not_found,
            // Sessions and refresh tokens.
            sessions_are_stored_and_found,
            sessions_for_user_lists_live_sessions_newest_first,
            revoke_session_only_revokes_the_owners_live_session,
            revoke_user_sessions_keeps_the_one_asked_for,
            rotating_the_current_refresh_token_rotates_it,
            only_the_current_refresh_token_is_found_and_never_consumed,
            reusing_a_rotated_refresh_token_revokes_the_session,
            concurrent_rotations_of_one_token_rotate_once,
            refresh_reuse_grace_tolerates_only_the_previous_token,
            refresh_fails_after_idle_timeout_and_absolute_expiry,
            refresh_rotation_answers_every_row_of_the_table,
            unknown_refresh_tokens_are_invalid,
            revoked_sessions_since_lists_recent_revocations,
            purge_sessions_removes_only_old_sessions,
            // One-time tokens.
            one_time_tokens_are_consumed_once,
            one_time_tokens_are_bound_to_their_purpose,
            expired_one_time_tokens_are_refused,
            issuing_a_token_invalidates_the_previous_one,
            concurrent_consumes_of_one_token_succeed_once,
            check_code_accepts_the_right_code_once,
            check_code_counts_wrong_codes_down_to_zero,
            concurrent_correct_codes_are_accepted_once,
            concurrent_wrong_codes_all_count,
            check_code_is_isolated_per_subject_and_purpose,
            peek_does_not_consume,
            find_token_does_not_consume,
            purge_tokens_removes_only_old_tokens,
            // Audit log.
            audit_records_come_newest_first,
            audit_queries_filter_by_user_event_and_time,
            audit_queries_page_with_offset_and_limit,
            audit_records_are_immutable,
            // Signing keys.
            signing_keys_are_added_once_and_listed_oldest_first,
            retiring_a_signing_key_is_idempotent,
            delete_retired_keys_removes_only_keys_retired_before,
        );
    };
    (@checks $module:ident, $factory:expr; $($check:ident,)*) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            use $crate::testing::tokio as __authkit_conformance_tokio;
            $(
                #[__authkit_conformance_tokio::test(
                    crate = "__authkit_conformance_tokio",
                    flavor = "multi_thread",
                    worker_threads = 4
                )]
                async fn $check() {
                    // The guard lives until the check is over, passed or failed.
                    let (store, _guard) = $crate::testing::Fixture::split($factory.await);
                    $crate::testing::$check(store).await;
                }
            )*
        }
    };
}

/// The checks of [`MfaStore`](crate::store::MfaStore), in a module
/// `mfa_store_conformance`; used like
/// [`store_conformance_tests!`](crate::store_conformance_tests).
#[macro_export]
macro_rules! mfa_store_conformance_tests {
    ($factory:expr $(,)?) => {
        $crate::store_conformance_tests!(@checks mfa_store_conformance, $factory;
            // Multi-factor state.
            totp_enrolments_are_pending_until_confirmed,
            confirm_totp_confirms_the_stored_secret_once,
            totp_steps_are_accepted_only_forwards,
            concurrent_acceptances_of_one_step_succeed_once,
            delete_totp_removes_only_that_enrolment,
            backup_codes_are_replaced_and_spent_once,
            concurrent_backup_code_uses_succeed_once,
            mfa_status_reflects_totp_and_backup_codes,
            mfa_failures_count_within_the_window,
            concurrent_mfa_failures_all_count,
            devices_are_first_known_or_new,
        );
    };
}

/// The checks of [`IdentityStore`](crate::store::IdentityStore), in a
/// module `identity_store_conformance`; used like
/// [`store_conformance_tests!`](crate::store_conformance_tests).
#[macro_export]
macro_rules! identity_store_conformance_tests {
    ($factory:expr $(,)?) => {
        $crate::store_conformance_tests!(@checks identity_store_conformance, $factory;
            // Provider identities.
            identities_are_found_by_provider_and_subject,
            identities_are_unique_per_subject_and_per_account,
            concurrent_links_of_one_subject_link_once,
            unlink_removes_one_identity_and_can_keep_the_last,
            concurrent_unlinks_keep_the_last_identity,
        );
    };
}

/// The checks of [`OrgStore`](crate::store::OrgStore), in a module
/// `org_store_conformance`; used like
/// [`store_conformance_tests!`](crate::store_conformance_tests).
#[macro_export]
macro_rules! org_store_conformance_tests {
    ($factory:expr $(,)?) => {
        $crate::store_conformance_tests!(@checks org_store_conformance, $factory;
            // Organisations, memberships, invitations.
            orgs_are_created_with_their_owner,
            org_slugs_are_unique_under_concurrency,
            update_org_renames_only,
            the_last_owner_is_kept,
            concurrent_demotions_of_the_last_two_owners_leave_one,
            invites_are_newest_only_and_revocable,
            accepting_an_invite_makes_one_membership,
            concurrent_invite_acceptances_make_one_membership,
        );
    };
}

/// The checks of [`UserAdminStore`](crate::store::UserAdminStore), in a
/// module `user_admin_store_conformance`; used like
/// [`store_conformance_tests!`](crate::store_conformance_tests).
#[macro_export]
macro_rules! user_admin_store_conformance_tests {
    ($factory:expr $(,)?) => {
        $crate::store_conformance_tests!(@checks user_admin_store_conformance, $factory;
            // Account search and administrator locks.
            admin_locks_are_stored_with_reason_and_actor,
            only_an_unlock_lifts_an_admin_lock,
            users_are_searched_and_paged,
        );
    };
}
