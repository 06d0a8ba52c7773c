//! The end-to-end HTTP suite of the authkit API.
//!
//! Every case starts a real server on `127.0.0.1` (an ephemeral port)
//! through an adapter-provided [`Factory`] and talks to it with a real HTTP
//! client, so the same suite proves every adapter serves the same API. An
//! adapter runs it with one line:
//!
//! ```ignore
//! // tests/my_adapter.rs
//! authkit_e2e::e2e_tests!(my_adapter_factory());
//! ```
//!
//! The factory receives the [`Auth`] service and the [`ApiConfig`] of the
//! case, must serve the API under `config.mount_path` and the JWKS at the
//! root, serve [`HOST_ROUTE`] (a route of the host application's own,
//! guarded by the adapter's authentication, answering the caller's user
//! id as text), pass the socket peer address to the API, and answer the
//! bound address once it accepts connections.
//!
//! Mail is read from a [`MemoryMailer`](authkit_core::mail::MemoryMailer),
//! SMS from a [`MemorySms`](authkit_core::sms::MemorySms), social logins
//! go to a [`FakeProvider`](fake_provider::FakeProvider),
//! time is a [`ManualClock`](authkit_core::clock::ManualClock), and
//! throttling is off except in the rate-limit case.
//!
//! Every answer a case receives is also checked against the server's own
//! OpenAPI document ([`contract::Contract`]): its status must be
//! documented for the route, and its body must match the documented
//! schema, so the generated document cannot drift from what is served.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

pub use authkit_core::Auth;
pub use authkit_core::api::ApiConfig;

pub mod cases;
pub mod contract;
pub mod fake_provider;
mod harness;
pub mod sql_stores;

pub use harness::{
    Harness, INTROSPECTION_BASIC, INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET, Options,
    PASSWORD, Reply, api_config,
};

/// The host application's own route every factory serves at the root:
/// `GET` answers the signed-in caller's user id as text, 401 problem+json
/// otherwise, through the adapter's authentication (layer or middleware
/// and extractor), as a host app protects its routes.
pub const HOST_ROUTE: &str = "/host/whoami";

/// What a factory answers: the address the server listens on.
pub type ServerFuture = Pin<Box<dyn Future<Output = SocketAddr> + Send>>;

/// Starts a server for one case (see the crate docs for the contract).
pub type Factory = Arc<dyn Fn(Auth, ApiConfig) -> ServerFuture + Send + Sync>;

/// Generates one `#[tokio::test]` per case of the suite, each against a
/// fresh server from `$factory` (an expression of type [`Factory`]).
#[macro_export]
macro_rules! e2e_tests {
    ($factory:expr) => {
        $crate::e2e_tests!(@cases $factory;
            registration_verified_by_link,
            verification_by_code_and_resend,
            registration_confirmed_by_code,
            registration_codes_share_one_budget_per_email,
            login_failures_and_lockout,
            failure_lock_keeps_sessions_and_hides_behind_invalid_credentials,
            refresh_rotation_and_reuse,
            sixteen_concurrent_refreshes_give_one_success,
            password_reset,
            emailed_links_ignore_a_forged_host,
            password_change_with_a_token,
            forced_password_change_without_a_token,
            tokenless_password_change_is_only_for_a_forced_change,
            forced_password_change_waits_for_the_second_factor,
            password_rechecks_count_toward_the_lockout,
            password_rechecks_are_throttled_per_account_and_ip,
            unlinking_an_identity_needs_the_password,
            me_profile_export_and_audit,
            sessions_and_logout,
            deactivation,
            introspection_and_lookup,
            introspection_needs_an_authenticated_caller,
            forged_and_foreign_tokens_are_rejected,
            expired_access_tokens,
            bad_input_never_breaks_a_route,
            unknown_routes_and_methods,
            cookie_mode_with_csrf,
            cookie_mode_refuses_planted_cookies,
            client_ip_and_trusted_proxies,
            throttling_answers_429_with_retry_after,
            ipv6_clients_share_a_bucket_per_64,
            security_headers_on_every_answer,
            jwks_and_openapi,
            totp_login_with_replay_and_backup_codes,
            mfa_verify_refuses_bad_input_and_races,
            mfa_codes_by_email_and_sms,
            mfa_enrollment_demanded_by_a_role,
            mfa_verify_sets_cookies_in_cookie_mode,
            mfa_disabled_is_a_disabled_feature,
            phone_verification_by_sms,
            sms_travels_through_twilio,
            sms_budget_per_account,
            sms_budget_per_number,
            sms_budget_per_ip,
            sms_global_budget_holds_under_concurrency,
            sms_login_codes_spend_the_budgets,
            sms_countries_are_allow_listed,
            busy_hash_threads_shed_logins_with_503,
            a_flooding_client_is_shed_while_others_keep_their_place,
            oauth_google_new_and_returning_user,
            oauth_linking_rules,
            oauth_respects_closed_registration,
            oauth_state_is_signed_single_use_and_bound,
            oauth_id_tokens_are_verified,
            oauth_provider_failures_create_nothing,
            oauth_redirects_are_allow_listed,
            oauth_github_uses_the_primary_verified_email,
            oauth_generic_oidc_provider,
            oauth_identities_are_linked_and_unlinked,
            oauth_on_every_sql_store,
            organisations_members_and_invites,
            cross_org_access_and_scopes_never_bleed,
            invites_are_bound_to_the_invited_email,
            admin_routes_need_global_permissions,
            admin_manages_accounts,
            admin_lock_kills_sessions_immediately,
            admin_session_revocation_ends_access_at_once,
            admin_writes_use_the_current_roles,
            admin_lock_survives_a_password_reset
        );
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let factory: $crate::Factory = $factory;
                $crate::cases::$case(&factory).await;
            }
        )*
    };
}
