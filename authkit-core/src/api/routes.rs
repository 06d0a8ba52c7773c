//! The route table: every route the API serves, relative to the mount
//! point.

use http::Method;

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Register,
    RegisterStart,
    RegisterConfirm,
    VerifyEmail,
    ResendVerification,
    Login,
    Refresh,
    PasswordReset,
    PasswordResetConfirm,
    EmailLookup,
    Introspect,
    Me,
    UpdateMe,
    Deactivate,
    Export,
    MyAudit,
    Logout,
    LogoutAll,
    Sessions,
    RevokeSession,
    ChangePassword,
    MfaChallenge,
    MfaVerify,
    TotpSetup,
    TotpEnable,
    TotpDisable,
    BackupCodes,
    EnrollTotpSetup,
    EnrollTotpEnable,
    PhoneVerifyStart,
    PhoneVerifyConfirm,
    OAuthStart,
    OAuthCallback,
    Identities,
    LinkIdentity,
    UnlinkIdentity,
    OpenApi,
    /// Organisation routes (`api/orgs.rs`).
    Org(OrgRoute),
    /// Admin routes (`api/admin.rs`).
    Admin(AdminRoute),
}

/// The organisation routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrgRoute {
    Create,
    Mine,
    View,
    Rename,
    Leave,
    Members,
    ChangeRole,
    RemoveMember,
    Invite,
    Invites,
    RevokeInvite,
    AcceptInvite,
}

/// The admin routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AdminRoute {
    Users,
    User,
    Lock,
    Unlock,
    Deactivate,
    Reactivate,
    ForcePasswordChange,
    AssignRoles,
    Sessions,
    RevokeSessions,
    RevokeSession,
    Audit,
}

impl Endpoint {
    /// Whether the route belongs to multi-factor authentication, which
    /// answers 404 `feature_disabled` (before reading the request) while
    /// MFA is off.
    pub(crate) fn is_mfa(self) -> bool {
        matches!(
            self,
            Self::MfaChallenge
                | Self::MfaVerify
                | Self::TotpSetup
                | Self::TotpEnable
                | Self::TotpDisable
                | Self::BackupCodes
                | Self::EnrollTotpSetup
                | Self::EnrollTotpEnable
        )
    }
}

/// One row of the table; `{name}` segments match one path segment.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    pub(crate) endpoint: Endpoint,
}

const fn route(method: Method, path: &'static str, endpoint: Endpoint) -> Route {
    Route {
        method,
        path,
        endpoint,
    }
}

/// Every route served under the mount point.
pub(crate) static ROUTES: [Route; 61] = [
    route(Method::POST, "/register", Endpoint::Register),
    route(Method::POST, "/register/start", Endpoint::RegisterStart),
    route(Method::POST, "/register/confirm", Endpoint::RegisterConfirm),
    route(Method::POST, "/email/verify", Endpoint::VerifyEmail),
    route(
        Method::POST,
        "/email/verify/resend",
        Endpoint::ResendVerification,
    ),
    route(Method::POST, "/token", Endpoint::Login),
    route(Method::POST, "/token/refresh", Endpoint::Refresh),
    route(Method::POST, "/password/reset", Endpoint::PasswordReset),
    route(
        Method::POST,
        "/password/reset/confirm",
        Endpoint::PasswordResetConfirm,
    ),
    route(Method::POST, "/email/lookup", Endpoint::EmailLookup),
    route(Method::POST, "/token/introspect", Endpoint::Introspect),
    route(Method::GET, "/me", Endpoint::Me),
    route(Method::PATCH, "/me", Endpoint::UpdateMe),
    route(Method::POST, "/me/deactivate", Endpoint::Deactivate),
    route(Method::GET, "/me/export", Endpoint::Export),
    route(Method::GET, "/me/audit", Endpoint::MyAudit),
    route(Method::POST, "/logout", Endpoint::Logout),
    route(Method::POST, "/logout-all", Endpoint::LogoutAll),
    route(Method::GET, "/sessions", Endpoint::Sessions),
    route(Method::DELETE, "/sessions/{id}", Endpoint::RevokeSession),
    route(Method::POST, "/password/change", Endpoint::ChangePassword),
    route(Method::POST, "/mfa/challenge", Endpoint::MfaChallenge),
    route(Method::POST, "/mfa/verify", Endpoint::MfaVerify),
    route(Method::POST, "/mfa/totp/setup", Endpoint::TotpSetup),
    route(Method::POST, "/mfa/totp/enable", Endpoint::TotpEnable),
    route(Method::POST, "/mfa/totp/disable", Endpoint::TotpDisable),
    route(Method::POST, "/mfa/backup-codes", Endpoint::BackupCodes),
    route(
        Method::POST,
        "/mfa/enroll/totp/setup",
        Endpoint::EnrollTotpSetup,
    ),
    route(
        Method::POST,
        "/mfa/enroll/totp/enable",
        Endpoint::EnrollTotpEnable,
    ),
    route(
        Method::POST,
        "/phone/verify/start",
        Endpoint::PhoneVerifyStart,
    ),
    route(
        Method::POST,
        "/phone/verify/confirm",
        Endpoint::PhoneVerifyConfirm,
    ),
    route(Method::GET, "/oauth/{provider}/start", Endpoint::OAuthStart),
    route(
        Method::GET,
        "/oauth/{provider}/callback",
        Endpoint::OAuthCallback,
    ),
    route(Method::GET, "/me/identities", Endpoint::Identities),
    route(Method::POST, "/me/identities", Endpoint::LinkIdentity),
    route(Method::DELETE, "/me/identities", Endpoint::UnlinkIdentity),
    route(Method::GET, "/openapi.json", Endpoint::OpenApi),
    route(Method::POST, "/orgs", Endpoint::Org(OrgRoute::Create)),
    route(Method::GET, "/orgs", Endpoint::Org(OrgRoute::Mine)),
    route(Method::GET, "/orgs/{slug}", Endpoint::Org(OrgRoute::View)),
    route(
        Method::PATCH,
        "/orgs/{slug}",
        Endpoint::Org(OrgRoute::Rename),
    ),
    route(
        Method::POST,
        "/orgs/{slug}/leave",
        Endpoint::Org(OrgRoute::Leave),
    ),
    route(
        Method::GET,
        "/orgs/{slug}/members",
        Endpoint::Org(OrgRoute::Members),
    ),
    route(
        Method::PATCH,
        "/orgs/{slug}/members/{user_id}",
        Endpoint::Org(OrgRoute::ChangeRole),
    ),
    route(
        Method::DELETE,
        "/orgs/{slug}/members/{user_id}",
        Endpoint::Org(OrgRoute::RemoveMember),
    ),
    route(
        Method::POST,
        "/orgs/{slug}/invites",
        Endpoint::Org(OrgRoute::Invite),
    ),
    route(
        Method::GET,
        "/orgs/{slug}/invites",
        Endpoint::Org(OrgRoute::Invites),
    ),
    route(
        Method::DELETE,
        "/orgs/{slug}/invites/{id}",
        Endpoint::Org(OrgRoute::RevokeInvite),
    ),
    route(
        Method::POST,
        "/invites/accept",
        Endpoint::Org(OrgRoute::AcceptInvite),
    ),
    route(
        Method::GET,
        "/admin/users",
        Endpoint::Admin(AdminRoute::Users),
    ),
    route(
        Method::GET,
        "/admin/users/{id}",
        Endpoint::Admin(AdminRoute::User),
    ),
    route(
        Method::POST,
        "/admin/users/{id}/lock",
        Endpoint::Admin(AdminRoute::Lock),
    ),
    route(
        Method::POST,
        "/admin/users/{id}/unlock",
        Endpoint::Admin(AdminRoute::Unlock),
    ),
    route(
        Method::POST,
        "/admin/users/{id}/deactivate",
        Endpoint::Admin(AdminRoute::Deactivate),
    ),
    route(
        Method::POST,
        "/admin/users/{id}/reactivate",
        Endpoint::Admin(AdminRoute::Reactivate),
    ),
    route(
        Method::POST,
        "/admin/users/{id}/force-password-change",
        Endpoint::Admin(AdminRoute::ForcePasswordChange),
    ),
    route(
        Method::PUT,
        "/admin/users/{id}/roles",
        Endpoint::Admin(AdminRoute::AssignRoles),
    ),
    route(
        Method::GET,
        "/admin/users/{id}/sessions",
        Endpoint::Admin(AdminRoute::Sessions),
    ),
    route(
        Method::DELETE,
        "/admin/users/{id}/sessions",
        Endpoint::Admin(AdminRoute::RevokeSessions),
    ),
    route(
        Method::DELETE,
        "/admin/users/{id}/sessions/{session_id}",
        Endpoint::Admin(AdminRoute::RevokeSession),
    ),
    route(
        Method::GET,
        "/admin/audit",
        Endpoint::Admin(AdminRoute::Audit),
    ),
];

/// The routes served at the root, outside the mount point.
pub(crate) const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The outcome of looking a request up.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// A route, with its path parameters in order.
    Found(Endpoint, Vec<String>),
    /// The path exists with other methods (the `Allow` value).
    MethodNotAllowed(String),
    /// No such path.
    NotFound,
}

/// Looks `method path` up in the table.
pub(crate) fn resolve(method: &Method, path: &str) -> Resolved {
    let mut allowed: Vec<&str> = Vec::new();
    for route in &ROUTES {
        let Some(params) = matches(route.path, path) else {
            continue;
        };
        if route.method == *method {
            return Resolved::Found(route.endpoint, params);
        }
        allowed.push(route.method.as_str());
    }
    if allowed.is_empty() {
        Resolved::NotFound
    } else {
        allowed.sort_unstable();
        allowed.dedup();
        Resolved::MethodNotAllowed(allowed.join(", "))
    }
}

/// The parameters if `path` fits `pattern`.
fn matches(pattern: &str, path: &str) -> Option<Vec<String>> {
    let mut params = Vec::new();
    let mut pattern_segments = pattern.split('/');
    let mut path_segments = path.split('/');
    loop {
        match (pattern_segments.next(), path_segments.next()) {
            (None, None) => return Some(params),
            (Some(p), Some(s)) if p.starts_with('{') && p.ends_with('}') => {
                if s.is_empty() {
                    return None;
                }
                params.push(s.to_owned());
            }
            (Some(p), Some(s)) if p == s => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve_with_their_parameters() {
        assert_eq!(
            resolve(&Method::POST, "/token"),
            Resolved::Found(Endpoint::Login, vec![])
        );
        assert_eq!(
            resolve(&Method::PATCH, "/me"),
            Resolved::Found(Endpoint::UpdateMe, vec![])
        );
        assert_eq!(
            resolve(&Method::DELETE, "/sessions/abc"),
            Resolved::Found(Endpoint::RevokeSession, vec!["abc".to_owned()])
        );
        assert_eq!(
            resolve(&Method::POST, "/mfa/enroll/totp/enable"),
            Resolved::Found(Endpoint::EnrollTotpEnable, vec![])
        );
        assert_eq!(
            resolve(&Method::GET, "/oauth/google/callback"),
            Resolved::Found(Endpoint::OAuthCallback, vec!["google".to_owned()])
        );
        assert_eq!(
            resolve(&Method::DELETE, "/me/identities"),
            Resolved::Found(Endpoint::UnlinkIdentity, vec![])
        );
        assert_eq!(
            resolve(&Method::PATCH, "/orgs/acme/members/u1"),
            Resolved::Found(
                Endpoint::Org(OrgRoute::ChangeRole),
                vec!["acme".to_owned(), "u1".to_owned()]
            )
        );
        assert_eq!(
            resolve(&Method::GET, "/orgs"),
            Resolved::Found(Endpoint::Org(OrgRoute::Mine), vec![])
        );
        assert_eq!(
            resolve(&Method::DELETE, "/admin/users/u1/sessions/s1"),
            Resolved::Found(
                Endpoint::Admin(AdminRoute::RevokeSession),
                vec!["u1".to_owned(), "s1".to_owned()]
            )
        );
    }

    #[test]
    fn only_mfa_routes_depend_on_the_mfa_switch() {
        let mfa: Vec<_> = ROUTES
            .iter()
            .filter(|r| r.endpoint.is_mfa())
            .map(|r| r.path)
            .collect();
        assert_eq!(mfa.len(), 8);
        assert!(mfa.iter().all(|p| p.starts_with("/mfa/")));
        assert!(
            ROUTES
                .iter()
                .filter(|r| !r.endpoint.is_mfa())
                .all(|r| !r.path.starts_with("/mfa"))
        );
    }

    #[test]
    fn other_methods_list_what_is_allowed() {
        assert_eq!(
            resolve(&Method::DELETE, "/me"),
            Resolved::MethodNotAllowed("GET, PATCH".to_owned())
        );
        assert_eq!(
            resolve(&Method::GET, "/token"),
            Resolved::MethodNotAllowed("POST".to_owned())
        );
    }

    #[test]
    fn unknown_and_future_paths_are_not_found() {
        for path in [
            "",
            "/",
            "/tokens",
            "/token/",
            "/sessions/",
            "/sessions/a/b",
            "/me//",
            "/mfa",
            "/mfa/totp",
            "/mfa/enroll/totp",
            "/phone/verify",
            "/oauth",
            "/oauth/google",
            "/oauth//start",
            "/oauth/google/start/x",
            "/orgs/",
            "/orgs/acme/members/u/x",
            "/admin",
            "/admin/users/",
            "/invites",
            "/.well-known/jwks.json",
            "/ünïcode",
            "//token",
        ] {
            assert_eq!(resolve(&Method::POST, path), Resolved::NotFound, "{path}");
            assert_eq!(resolve(&Method::GET, path), Resolved::NotFound, "{path}");
        }
    }

    #[test]
    fn each_method_and_path_appears_once() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(a.method != b.method || a.path != b.path, "{a:?}");
            }
        }
    }
}
