//! The cases of the suite, by domain. Each takes the adapter's
//! [`Factory`](crate::Factory) and starts its own server.

mod account;
mod admin;
mod input;
mod load_shedding;
mod mfa;
mod oauth;
mod orgs;
mod reauth;
mod registration;
mod sms;
mod sms_budgets;
mod tokens;
mod web;

pub use account::{
    deactivation, emailed_links_ignore_a_forged_host, forced_password_change_without_a_token,
    introspection_and_lookup, introspection_needs_an_authenticated_caller,
    me_profile_export_and_audit, password_change_with_a_token, password_reset, sessions_and_logout,
    tokenless_password_change_is_only_for_a_forced_change,
};
pub use admin::{
    admin_lock_kills_sessions_immediately, admin_lock_survives_a_password_reset,
    admin_manages_accounts, admin_routes_need_global_permissions,
    admin_session_revocation_ends_access_at_once, admin_writes_use_the_current_roles,
};
pub use input::{bad_input_never_breaks_a_route, unknown_routes_and_methods};
pub use load_shedding::{
    a_flooding_client_is_shed_while_others_keep_their_place, busy_hash_threads_shed_logins_with_503,
};
pub use mfa::{
    forced_password_change_waits_for_the_second_factor, mfa_codes_by_email_and_sms,
    mfa_disabled_is_a_disabled_feature, mfa_enrollment_demanded_by_a_role,
    mfa_verify_refuses_bad_input_and_races, mfa_verify_sets_cookies_in_cookie_mode,
    phone_verification_by_sms, totp_login_with_replay_and_backup_codes,
};
pub use oauth::{
    oauth_generic_oidc_provider, oauth_github_uses_the_primary_verified_email,
    oauth_google_new_and_returning_user, oauth_id_tokens_are_verified,
    oauth_identities_are_linked_and_unlinked, oauth_linking_rules, oauth_on_every_sql_store,
    oauth_provider_failures_create_nothing, oauth_redirects_are_allow_listed,
    oauth_respects_closed_registration, oauth_state_is_signed_single_use_and_bound,
};
pub use orgs::{
    cross_org_access_and_scopes_never_bleed, invites_are_bound_to_the_invited_email,
    organisations_members_and_invites,
};
pub use reauth::{
    password_rechecks_are_throttled_per_account_and_ip, password_rechecks_count_toward_the_lockout,
    unlinking_an_identity_needs_the_password,
};
pub use registration::{
    registration_codes_share_one_budget_per_email, registration_confirmed_by_code,
    registration_verified_by_link, verification_by_code_and_resend,
};
pub use sms::sms_travels_through_twilio;
pub use sms_budgets::{
    sms_budget_per_account, sms_budget_per_ip, sms_budget_per_number,
    sms_countries_are_allow_listed, sms_global_budget_holds_under_concurrency,
    sms_login_codes_spend_the_budgets,
};
pub use tokens::{
    expired_access_tokens, failure_lock_keeps_sessions_and_hides_behind_invalid_credentials,
    forged_and_foreign_tokens_are_rejected, login_failures_and_lockout, refresh_rotation_and_reuse,
    sixteen_concurrent_refreshes_give_one_success,
};
pub use web::{
    client_ip_and_trusted_proxies, cookie_mode_refuses_planted_cookies, cookie_mode_with_csrf,
    ipv6_clients_share_a_bucket_per_64, jwks_and_openapi, security_headers_on_every_answer,
    throttling_answers_429_with_retry_after,
};
