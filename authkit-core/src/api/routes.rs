//! The route table: every route the API serves, relative to the mount
//! point. Features not built yet (organisations, admin, social login) add
//! their rows here and their handlers next to the others; until then their
//! paths answer 404 `not_found` like any unknown path.

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
    OpenApi,
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
pub(crate) static ROUTES: [Route; 32] = [
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
    route(Method::GET, "/openapi.json", Endpoint::OpenApi),
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
            "/orgs",
            "/admin/users",
            "/oauth/google/start",
            "/invites/accept",
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
