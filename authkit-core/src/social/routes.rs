//! The social-login routes: their request, query and answer types and
//! their table (registered in the API's `TABLES`). The handlers are in
//! the api layer (`api/oauth.rs`).

use http::Method;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::OneOfBuilder;
use utoipa::openapi::{RefOr, Schema};

use crate::account::routes::LoginAnswer;
use crate::api::openapi as p;
use crate::api::routes::{Access, Endpoint, Input, Route, Success, inline, named};
use crate::auth::IdentityList;
use crate::store::Identity;

/// `?redirect_to=` of `GET /oauth/{provider}/start`.
#[derive(ToSchema)]
pub(crate) struct StartQuery {
    /// Where a cookie-mode sign-in ends (must pass the allow-list).
    pub(crate) redirect_to: Option<String>,
}

/// The query of `GET /oauth/{provider}/callback`, as the provider sends
/// it.
#[derive(ToSchema)]
pub(crate) struct CallbackQuery {
    /// The authorization code.
    pub(crate) code: Option<String>,
    /// The signed state of the start.
    pub(crate) state: Option<String>,
    /// The issuer (RFC 9207).
    pub(crate) iss: Option<String>,
    /// The provider's error, instead of a code.
    pub(crate) error: Option<String>,
}

/// `POST /me/identities`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct LinkRequest {
    /// The provider's name.
    pub(crate) provider: String,
    /// Where a cookie-mode link ends (must pass the allow-list).
    pub(crate) redirect_to: Option<String>,
}

/// `DELETE /me/identities`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct UnlinkRequest {
    /// The provider's name.
    pub(crate) provider: String,
    /// The account's password, for an account that has one.
    pub(crate) password: Option<String>,
}

/// 200 of `POST /me/identities`.
#[derive(Serialize, ToSchema)]
pub(crate) struct LinkStarted {
    /// Where to send the browser.
    pub(crate) authorization_url: String,
    /// Seconds the link may take.
    pub(crate) expires_in: i64,
}

/// 200 of a callback that linked an identity.
#[derive(Serialize, ToSchema)]
pub(crate) struct Linked {
    /// The identity linked.
    pub(crate) identity: Identity,
}

/// The 200 of a callback: a login answer, or a link's.
fn callback_answer(schemas: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(inline::<LoginAnswer<'static>>(schemas))
        .item(named::<Linked>(schemas))
        .into()
}

const SOCIAL: &str = "social login";

/// The routes of the social-login feature.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        Method::GET,
        "/oauth/{provider}/start",
        Endpoint::OAuthStart,
        SOCIAL,
        "Start a social sign-in",
    )
    .describe(
        "Redirects the browser to the provider (authorization code flow, PKCE S256, signed \
         single-use state, OIDC nonce) and sets the browser-binding cookie \
         __Host-authkit_oauth that the callback requires.",
    )
    .query(inline::<StartQuery>)
    .answers(&[Success::empty(
        302,
        "To the provider's authorization endpoint",
    )])
    .problems(&[
        p::BAD_REQUEST,
        p::NOT_FOUND,
        p::VALIDATION_FAILED,
        p::PROVIDER_ERROR,
    ]),
    Route::new(
        Method::GET,
        "/oauth/{provider}/callback",
        Endpoint::OAuthCallback,
        SOCIAL,
        "Finish a social sign-in or link",
    )
    .describe(
        "Checks the state against the binding cookie, redeems the code with the PKCE \
         verifier, verifies the identity (ID token iss, aud, nonce, expiry for OIDC) and \
         signs in by (provider, subject). With no identity yet, an account with the \
         provider's email is linked only when both the provider and the account verified \
         it (else 409 account_exists_unverified); otherwise an account is created (403 \
         registration_closed when auto-registration is off). Answers carry \
         Referrer-Policy: no-referrer and clear the binding cookie.",
    )
    .query(inline::<CallbackQuery>)
    .answers(&[
        Success::json(
            200,
            "Signed in (token pair, or an MFA challenge), or, for a link, the identity",
            callback_answer,
        ),
        Success::empty(
            302,
            "Cookie mode: to redirect_to with the session cookies set (an MFA challenge \
             travels in the URL fragment)",
        ),
    ])
    .problems(&[
        p::OAUTH_STATE,
        p::OAUTH_TOKEN,
        p::OAUTH_DENIED,
        p::NOT_FOUND,
        p::OAUTH_CONFLICT,
        p::VALIDATION_FAILED,
        p::PROVIDER_ERROR,
    ]),
    Route::new(
        Method::GET,
        "/me/identities",
        Endpoint::Identities,
        SOCIAL,
        "The account's linked identities",
    )
    .access(Access::Signed)
    .answers(&[Success::json(
        200,
        "Identities, oldest first",
        named::<IdentityList>,
    )]),
    Route::new(
        Method::POST,
        "/me/identities",
        Endpoint::LinkIdentity,
        SOCIAL,
        "Start linking a provider to the account",
    )
    .describe(
        "Answers the provider URL to send the browser to, and sets the browser-binding \
         cookie; the callback then links the identity (409 identity_taken when it belongs \
         to another account or the account has one of this provider).",
    )
    .access(Access::Signed)
    .input(Input::Json(named::<LinkRequest>))
    .answers(&[Success::json(
        200,
        "Send the browser to authorization_url",
        named::<LinkStarted>,
    )])
    .problems(&[p::NOT_FOUND, p::PROVIDER_ERROR]),
    Route::new(
        Method::DELETE,
        "/me/identities",
        Endpoint::UnlinkIdentity,
        SOCIAL,
        "Unlink a provider (an account with a password confirms it)",
    )
    .access(Access::Signed)
    .input(Input::Json(named::<UnlinkRequest>))
    .answers(&[Success::empty(204, "Unlinked")])
    .problems(&[p::NOT_FOUND, p::LAST_SIGN_IN_METHOD]),
];
