//! One function per endpoint: parse the input, call [`Auth`], render.
//! No business logic lives here.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::Api;
use super::cookies::{self, REFRESH_COOKIE, TokenBody};
use super::input::{self, JsonBody};
use super::problem::{Failure, json as render, no_content, raw};
use super::query::Query;
use super::routes::Endpoint;
use crate::audit::RequestMeta;
use crate::error::{AuthError, FieldError};
use crate::mfa::MfaMethod;
use crate::principal::Principal;
use crate::service::{
    Credentials, LoginOutcome, ProfileUpdate, Registration, TokenPair, TotpDisable,
};

/// The `method` names `POST /mfa/verify` accepts.
const VERIFY_METHODS: &str = "totp, backup_code, email, sms";
/// The `method` names `POST /mfa/challenge` accepts (those sent a code).
const CHALLENGE_METHODS: &str = "email, sms";

pub(super) type Answer = Result<Response<Bytes>, Failure>;

impl Api {
    pub(super) async fn dispatch(
        &self,
        endpoint: Endpoint,
        params: &[String],
        request: &Request<Bytes>,
        meta: &RequestMeta,
    ) -> Answer {
        let auth = self.auth();
        if endpoint.is_mfa() && !auth.config().enable_mfa {
            return Err(AuthError::FeatureDisabled.into());
        }
        match endpoint {
            Endpoint::Register => {
                let input = registration(&self.body(request)?)?;
                let registered = auth.register(input, meta).await?;
                Ok(render(
                    StatusCode::CREATED,
                    &json!({
                        "user": registered.user.profile(),
                        "verification_sent": registered.verification_sent,
                    }),
                ))
            }
            Endpoint::RegisterStart => {
                let input = registration(&self.body(request)?)?;
                let challenge = auth.start_registration(input, meta).await?;
                Ok(render(StatusCode::ACCEPTED, &challenge))
            }
            Endpoint::RegisterConfirm => {
                let body = self.body(request)?;
                let mut f = body.fields();
                let (challenge, code) = (f.string("challenge_id"), f.string("code"));
                f.finish()?;
                let registered = auth.confirm_registration(&challenge, &code, meta).await?;
                Ok(user_answer(StatusCode::CREATED, &registered.user))
            }
            Endpoint::VerifyEmail => {
                let body = self.body(request)?;
                let mut f = body.fields();
                let user = if body.has("token") {
                    let token = f.string("token");
                    f.finish()?;
                    auth.verify_email(&token, meta).await?
                } else {
                    let (email, code) = (f.string("email"), f.string("code"));
                    f.finish()?;
                    auth.verify_email_code(&email, &code, meta).await?
                };
                Ok(user_answer(StatusCode::OK, &user))
            }
            Endpoint::ResendVerification => {
                let email = self.one_field(request, "email")?;
                auth.resend_verification(&email, meta).await?;
                Ok(accepted())
            }
            Endpoint::Login => {
                let body = self.body(request)?;
                let mut f = body.fields();
                let credentials = Credentials::new(f.string("email"), f.string("password"));
                f.finish()?;
                let outcome = auth.login(credentials, meta).await?;
                Ok(self.login_answer(outcome))
            }
            Endpoint::Refresh => self.refresh(request, meta).await,
            Endpoint::PasswordReset => {
                let email = self.one_field(request, "email")?;
                auth.request_password_reset(&email, meta).await?;
                Ok(accepted())
            }
            Endpoint::PasswordResetConfirm => {
                let body = self.body(request)?;
                let mut f = body.fields();
                let (token, password) = (f.string("token"), f.string("new_password"));
                f.finish()?;
                auth.confirm_password_reset(&token, &password, meta).await?;
                Ok(no_content())
            }
            Endpoint::EmailLookup => {
                let phone = self.one_field(request, "phone")?;
                let emails = auth.lookup_email(&phone, meta).await?;
                Ok(render(StatusCode::OK, &json!({ "emails": emails })))
            }
            Endpoint::Introspect => self.introspect(request, meta).await,
            Endpoint::Me => {
                let principal = self.principal(request)?;
                let body = auth.me_json(&principal).await?;
                Ok(raw(StatusCode::OK, "application/json", body))
            }
            Endpoint::UpdateMe => {
                let principal = self.principal(request)?;
                let body = self.body(request)?;
                let mut f = body.fields();
                let update = ProfileUpdate {
                    display_name: f.nullable("display_name"),
                    avatar_url: f.nullable("avatar_url"),
                    phone: f.nullable("phone"),
                };
                f.finish()?;
                let profile = auth.update_profile(&principal, update, meta).await?;
                Ok(render(StatusCode::OK, &json!({ "user": profile })))
            }
            Endpoint::Deactivate => {
                let principal = self.principal(request)?;
                let password = self.one_field(request, "password")?;
                auth.deactivate(&principal, &password, meta).await?;
                Ok(self.signed_out())
            }
            Endpoint::Export => {
                let principal = self.principal(request)?;
                Ok(render(
                    StatusCode::OK,
                    &auth.export(&principal, meta).await?,
                ))
            }
            Endpoint::MyAudit => {
                let principal = self.principal(request)?;
                let mut query = Query::parse(request.uri().query());
                let (page, per_page) = query.page();
                query.finish()?;
                Ok(render(
                    StatusCode::OK,
                    &auth.my_audit(&principal, page, per_page).await?,
                ))
            }
            Endpoint::Logout => {
                let principal = self.principal(request)?;
                let body = input::optional_json(request, self.config().body_limit)?;
                let token = match &body {
                    Some(body) => {
                        let mut f = body.fields();
                        let token = f.optional("refresh_token");
                        f.finish()?;
                        token
                    }
                    None => None,
                };
                auth.logout(&principal, token.as_deref(), meta).await?;
                Ok(self.signed_out())
            }
            Endpoint::LogoutAll => {
                let principal = self.principal(request)?;
                auth.logout_all(&principal, meta).await?;
                Ok(self.signed_out())
            }
            Endpoint::Sessions => {
                let principal = self.principal(request)?;
                Ok(render(StatusCode::OK, &auth.sessions(&principal).await?))
            }
            Endpoint::RevokeSession => {
                let principal = self.principal(request)?;
                let id = params
                    .first()
                    .and_then(|id| Uuid::parse_str(id).ok())
                    .ok_or(AuthError::NotFound)?;
                auth.revoke_session(&principal, id, meta).await?;
                Ok(no_content())
            }
            Endpoint::ChangePassword => self.change_password(request, meta).await,
            Endpoint::MfaChallenge => {
                let body = self.body(request)?;
                let mut f = body.fields();
                let (token, method) = (f.string("mfa_token"), f.string("method"));
                f.finish()?;
                // `totp` and `backup_code` parse, and the service refuses
                // them (`mfa_method_unavailable`): nothing is sent for them.
                let method: MfaMethod = input::choice("method", &method, CHALLENGE_METHODS)?;
                auth.mfa_challenge(&token, method, meta).await?;
                Ok(accepted())
            }
            Endpoint::MfaVerify => {
                let body = self.body(request)?;
                let mut f = body.fields();
                let token = f.string("mfa_token");
                let (method, code) = (f.string("method"), f.string("code"));
                f.finish()?;
                let method = input::choice("method", &method, VERIFY_METHODS)?;
                let pair = auth.mfa_verify(&token, method, &code, meta).await?;
                Ok(self.tokens(&pair))
            }
            Endpoint::TotpSetup => {
                let principal = self.principal(request)?;
                Ok(render(
                    StatusCode::OK,
                    &auth.totp_setup(&principal, meta).await?,
                ))
            }
            Endpoint::TotpEnable => {
                let principal = self.principal(request)?;
                let code = self.one_field(request, "code")?;
                let codes = auth.totp_enable(&principal, &code, meta).await?;
                Ok(backup_codes(&codes))
            }
            Endpoint::TotpDisable => {
                let principal = self.principal(request)?;
                let body = self.body(request)?;
                let mut f = body.fields();
                let proof = if body.has("password") {
                    TotpDisable::Password {
                        password: f.string("password"),
                    }
                } else {
                    TotpDisable::Code {
                        code: f.string("code"),
                    }
                };
                f.finish()?;
                auth.totp_disable(&principal, proof, meta).await?;
                Ok(no_content())
            }
            Endpoint::BackupCodes => {
                let principal = self.principal(request)?;
                let codes = auth.regenerate_backup_codes(&principal, meta).await?;
                Ok(backup_codes(&codes))
            }
            Endpoint::EnrollTotpSetup => {
                let token = self.one_field(request, "mfa_token")?;
                Ok(render(
                    StatusCode::OK,
                    &auth.enrollment_totp_setup(&token, meta).await?,
                ))
            }
            Endpoint::EnrollTotpEnable => {
                let body = self.body(request)?;
                let mut f = body.fields();
                let (token, code) = (f.string("mfa_token"), f.string("code"));
                f.finish()?;
                let enrolled = auth.enrollment_totp_enable(&token, &code, meta).await?;
                // The token body of a login, plus the backup codes.
                #[derive(Serialize)]
                struct Enrolled<'a> {
                    #[serde(flatten)]
                    tokens: TokenBody<'a>,
                    backup_codes: &'a [String],
                }
                let answer = Enrolled {
                    tokens: TokenBody::new(&enrolled.tokens, self.config()),
                    backup_codes: &enrolled.backup_codes,
                };
                Ok(self.with_cookies(render(StatusCode::OK, &answer), &enrolled.tokens))
            }
            Endpoint::PhoneVerifyStart => {
                let principal = self.principal(request)?;
                let phone = self.one_field(request, "phone")?;
                auth.start_phone_verification(&principal, &phone, meta)
                    .await?;
                Ok(accepted())
            }
            Endpoint::PhoneVerifyConfirm => {
                let principal = self.principal(request)?;
                let code = self.one_field(request, "code")?;
                let profile = auth
                    .confirm_phone_verification(&principal, &code, meta)
                    .await?;
                Ok(render(StatusCode::OK, &json!({ "user": profile })))
            }
            Endpoint::OAuthStart => self.oauth_start(param(params), request, meta).await,
            Endpoint::OAuthCallback => Ok(self.oauth_callback(param(params), request, meta).await),
            Endpoint::Identities => self.identities(request).await,
            Endpoint::LinkIdentity => self.link_identity(request, meta).await,
            Endpoint::UnlinkIdentity => self.unlink_identity(request, meta).await,
            Endpoint::OpenApi => {
                let mut response = raw(
                    StatusCode::OK,
                    "application/json",
                    Bytes::from_static(super::OPENAPI.as_bytes()),
                );
                // The same document for every caller: caches may keep it.
                response.headers_mut().insert(
                    http::header::CACHE_CONTROL,
                    http::HeaderValue::from_static(super::security_headers::OPENAPI_CACHE),
                );
                Ok(response)
            }
            Endpoint::Org(route) => self.org_route(route, params, request, meta).await,
            Endpoint::Admin(route) => self.admin_route(route, params, request, meta).await,
        }
    }

    /// `POST /token/refresh`: the token from the body, or in cookie mode
    /// from the refresh cookie (then CSRF-checked; a repeated cookie is
    /// 401 `token_invalid`, see [`cookies`]). The only route that reads
    /// the refresh cookie.
    async fn refresh(&self, request: &Request<Bytes>, meta: &RequestMeta) -> Answer {
        let config = self.config();
        let body = input::optional_json(request, config.body_limit)?;
        let from_body = match &body {
            Some(body) => {
                let mut f = body.fields();
                let token = f.optional("refresh_token");
                f.finish()?;
                token
            }
            None => None,
        };
        let token = match from_body {
            Some(token) => token,
            None if config.cookie_mode => {
                let token = cookies::read(request.headers(), REFRESH_COOKIE)
                    .map_err(|_| AuthError::TokenInvalid)?
                    .ok_or(Failure::Malformed("A refresh token is required."))?;
                self.check_csrf(request)?;
                token.to_owned()
            }
            None if body.is_some() => {
                return Err(AuthError::Validation(vec![FieldError::new(
                    "refresh_token",
                    "required",
                    "This field is required.",
                )])
                .into());
            }
            None => return Err(Failure::Malformed("A JSON body is required.")),
        };
        let pair = self.auth().refresh(&token, meta).await?;
        Ok(self.tokens(&pair))
    }

    /// `POST /password/change`: with a bearer token (or access cookie),
    /// `{current_password, new_password}` → 204. Without one, an account
    /// whose password must change sends `{email, current_password,
    /// new_password}` and is signed in (200 token pair), or, with MFA, gets
    /// the MFA challenge that applies the change (see
    /// [`Auth::login_with_new_password`]); any other account gets 401
    /// `invalid_credentials`, as for a wrong password.
    async fn change_password(&self, request: &Request<Bytes>, meta: &RequestMeta) -> Answer {
        let principal = self.authenticate(request.method(), request.headers())?;
        let body = self.body(request)?;
        let mut f = body.fields();
        let current = f.string("current_password");
        let new = f.string("new_password");
        match principal {
            Some(principal) => {
                f.finish()?;
                self.auth()
                    .change_password(&principal, &current, &new, meta)
                    .await?;
                Ok(no_content())
            }
            None if body.has("email") => {
                let email = f.string("email");
                f.finish()?;
                let outcome = self
                    .auth()
                    .login_with_new_password(Credentials::new(email, current), &new, meta)
                    .await?;
                Ok(self.login_answer(outcome))
            }
            None => Err(Failure::Unauthenticated),
        }
    }

    pub(super) fn login_answer(&self, outcome: LoginOutcome) -> Response<Bytes> {
        match outcome {
            LoginOutcome::Tokens(pair) => self.tokens(&pair),
            LoginOutcome::MfaRequired(challenge) => render(StatusCode::OK, &challenge),
            LoginOutcome::MfaEnrollmentRequired(enrollment) => render(StatusCode::OK, &enrollment),
        }
    }

    /// 200 with the pair; in cookie mode the cookies, and a body without
    /// the tokens (see [`TokenBody`]).
    fn tokens(&self, pair: &TokenPair) -> Response<Bytes> {
        let body = TokenBody::new(pair, self.config());
        self.with_cookies(render(StatusCode::OK, &body), pair)
    }

    /// `response`, with the cookies of `pair` in cookie mode.
    pub(super) fn with_cookies(
        &self,
        mut response: Response<Bytes>,
        pair: &TokenPair,
    ) -> Response<Bytes> {
        let config = self.config();
        if config.cookie_mode {
            let ttl = self.auth().config().session_ttl.num_seconds();
            cookies::set_tokens(&mut response, config, pair, ttl);
        }
        response
    }

    /// 204, clearing the cookies in cookie mode.
    fn signed_out(&self) -> Response<Bytes> {
        let mut response = no_content();
        if self.config().cookie_mode {
            cookies::clear_tokens(&mut response, self.config());
        }
        response
    }

    pub(super) fn body(&self, request: &Request<Bytes>) -> Result<JsonBody, Failure> {
        input::json(request, self.config().body_limit)
    }

    /// A body with one required string field.
    pub(super) fn one_field(
        &self,
        request: &Request<Bytes>,
        field: &str,
    ) -> Result<String, Failure> {
        let body = self.body(request)?;
        let mut f = body.fields();
        let value = f.string(field);
        f.finish()?;
        Ok(value)
    }

    /// The caller, or 401 when there is none.
    pub(super) fn principal(&self, request: &Request<Bytes>) -> Result<Principal, Failure> {
        self.authenticate(request.method(), request.headers())?
            .ok_or(Failure::Unauthenticated)
    }
}

/// The first path parameter (the route table guarantees one).
fn param(params: &[String]) -> &str {
    params.first().map_or("", String::as_str)
}

fn registration(body: &JsonBody) -> Result<Registration, Failure> {
    let mut f = body.fields();
    let mut input = Registration::new(f.string("email"), f.string("password"));
    input.display_name = f.optional("display_name");
    input.phone = f.optional("phone");
    f.finish()?;
    Ok(input)
}

fn user_answer(status: StatusCode, user: &crate::user::User) -> Response<Bytes> {
    render(status, &json!({ "user": user.profile() }))
}

/// 200 `{backup_codes}`.
fn backup_codes(codes: &[String]) -> Response<Bytes> {
    render(StatusCode::OK, &json!({ "backup_codes": codes }))
}

/// The fixed 202 of flows that must not disclose whether an account
/// exists, and of flows that send a code.
fn accepted() -> Response<Bytes> {
    render(StatusCode::ACCEPTED, &json!({ "status": "accepted" }))
}
