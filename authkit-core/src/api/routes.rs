//! The route table: every route the API serves, relative to the mount
//! point, as the concatenation of the features' tables ([`TABLES`]). Each
//! row names its request and answer types, from which the OpenAPI
//! document is generated (see `openapi.rs`).

use http::Method;
use utoipa::ToSchema;
use utoipa::openapi::{Ref, RefOr, Schema};

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
    /// Whether the route is in the MFA feature's table: those answer 404
    /// `feature_disabled` (before reading the request) while MFA is off.
    pub(crate) fn is_mfa(self) -> bool {
        crate::mfa::routes::ROUTES
            .iter()
            .any(|route| route.endpoint == self)
    }
}

/// One row of a feature's table: the route, and what it reads and
/// answers (the OpenAPI document is generated from these rows).
#[derive(Debug)]
pub(crate) struct Route {
    /// The method.
    pub(crate) method: Method,
    /// The path; `{name}` segments match one path segment.
    pub(crate) path: &'static str,
    /// What serves it.
    pub(crate) endpoint: Endpoint,
    /// Its description: input and answer types, access, errors.
    pub(crate) doc: RouteDoc,
}

impl Route {
    /// A route of `tag` with `summary`, public, without input, that
    /// answers nothing yet: the builder methods below fill the rest.
    pub(crate) const fn new(
        method: Method,
        path: &'static str,
        endpoint: Endpoint,
        tag: &'static str,
        summary: &'static str,
    ) -> Self {
        Self {
            method,
            path,
            endpoint,
            doc: RouteDoc {
                tag,
                summary,
                description: "",
                access: Access::Public,
                input: Input::None,
                query: None,
                answers: &[],
                problems: &[],
            },
        }
    }

    /// A longer description.
    pub(crate) const fn describe(mut self, description: &'static str) -> Self {
        self.doc.description = description;
        self
    }

    /// Who may call it.
    pub(crate) const fn access(mut self, access: Access) -> Self {
        self.doc.access = access;
        self
    }

    /// The request body.
    pub(crate) const fn input(mut self, input: Input) -> Self {
        self.doc.input = input;
        self
    }

    /// The query parameters: the properties of a schema.
    pub(crate) const fn query(mut self, query: SchemaFn) -> Self {
        self.doc.query = Some(query);
        self
    }

    /// The successful answers.
    pub(crate) const fn answers(mut self, answers: &'static [Success]) -> Self {
        self.doc.answers = answers;
        self
    }

    /// The errors particular to the route (those of every route, of its
    /// body and of its access are added by the document).
    pub(crate) const fn problems(mut self, problems: &'static [Problem]) -> Self {
        self.doc.problems = problems;
        self
    }
}

/// What the OpenAPI document says of a route besides method and path.
#[derive(Debug)]
pub(crate) struct RouteDoc {
    /// The feature it belongs to (the operation's tag).
    pub(crate) tag: &'static str,
    /// One line.
    pub(crate) summary: &'static str,
    /// More, or empty.
    pub(crate) description: &'static str,
    /// Who may call it.
    pub(crate) access: Access,
    /// Its body.
    pub(crate) input: Input,
    /// Its query parameters.
    pub(crate) query: Option<SchemaFn>,
    /// Its successful answers.
    pub(crate) answers: &'static [Success],
    /// Its own errors.
    pub(crate) problems: &'static [Problem],
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone.
    Public,
    /// A bearer token or, in cookie mode, the access cookie.
    Signed,
    /// Anyone, and a caller with a token is treated as signed in
    /// (`POST /password/change`).
    Optional,
    /// The introspection client by HTTP Basic, or a signed-in caller with
    /// the introspection permission.
    Introspection,
}

/// A request body.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Input {
    /// None read.
    None,
    /// A JSON object of this schema.
    Json(SchemaFn),
    /// A JSON object of this schema, or no body at all.
    OptionalJson(SchemaFn),
    /// A JSON object or an `application/x-www-form-urlencoded` form of
    /// this schema.
    JsonOrForm(SchemaFn),
}

/// A successful answer of a route.
#[derive(Debug)]
pub(crate) struct Success {
    /// Its status.
    pub(crate) status: u16,
    /// What it means.
    pub(crate) description: &'static str,
    /// Its JSON body, if it has one.
    pub(crate) body: Option<SchemaFn>,
}

impl Success {
    /// An answer with a JSON body of `body`'s schema.
    pub(crate) const fn json(status: u16, description: &'static str, body: SchemaFn) -> Self {
        Self {
            status,
            description,
            body: Some(body),
        }
    }

    /// An answer without a body.
    pub(crate) const fn empty(status: u16, description: &'static str) -> Self {
        Self {
            status,
            description,
            body: None,
        }
    }
}

/// A problem+json answer: its status and what its `code`s mean. The
/// shared ones are components of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The component name.
    pub(crate) name: &'static str,
    /// The status.
    pub(crate) status: u16,
    /// The codes answered with it, and when.
    pub(crate) description: &'static str,
}

/// Registers the schemas a route's type needs in `schemas` and answers the
/// schema (or a reference to it) to use in place.
pub(crate) type SchemaFn = fn(&mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema>;

/// The [`SchemaFn`] of `T`, referenced by name.
pub(crate) fn named<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    T::schemas(schemas);
    let name = T::name();
    schemas.push((name.to_string(), T::schema()));
    RefOr::Ref(Ref::from_schema_name(name))
}

/// The [`SchemaFn`] of `T`, in place (generic types such as
/// [`Page`](crate::auth::Page), whose name is not unique).
pub(crate) fn inline<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    T::schemas(schemas);
    T::schema()
}

/// Every feature's table, in the order routes are matched. A feature is
/// served and documented by adding its table here.
pub(crate) static TABLES: [&[Route]; 7] = [
    crate::account::routes::ROUTES,
    crate::mfa::routes::ROUTES,
    crate::phone::routes::ROUTES,
    crate::social::routes::ROUTES,
    crate::orgs::routes::ROUTES,
    crate::admin::routes::ROUTES,
    super::openapi::ROUTES,
];

/// Every route served under the mount point.
pub(crate) fn all() -> impl Iterator<Item = &'static Route> {
    TABLES.iter().flat_map(|table| table.iter())
}

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
    for route in all() {
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
        let mfa: Vec<_> = all()
            .filter(|r| r.endpoint.is_mfa())
            .map(|r| r.path)
            .collect();
        assert_eq!(mfa.len(), 8);
        assert!(mfa.iter().all(|p| p.starts_with("/mfa/")));
        assert!(
            all()
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
        let routes: Vec<_> = all().collect();
        for (i, a) in routes.iter().enumerate() {
            for b in &routes[i + 1..] {
                assert!(a.method != b.method || a.path != b.path, "{a:?}");
            }
        }
    }
}
