//! One function per endpoint: parse the input, call [`Auth`], render.
//! No business logic lives here.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde::de::DeserializeOwned;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Api;
use super::cookies::{self, REFRESH_COOKIE, TokenBody};
use super::input::{self, JsonBody};
use super::problem::{Failure, json as render, no_content, raw};
use super::routes::Endpoint;
use crate::account::routes::{
    ACCEPTED, ConfirmRegistration, EmailRequest, Emails, ForcedPasswordChange, LoginAnswer,
    LoginRequest, LookupRequest, PageQuery, PasswordChange, PasswordChangeRequest, PasswordRequest,
    RefreshRequest, RegisterRequest, Registered, ResetConfirm, UserAnswer, VerifyByCode,
    VerifyByLink, VerifyEmailRequest,
};
use crate::audit::RequestMeta;
use crate::auth::{Credentials, LoginOutcome, ProfileUpdate, Registration, TokenPair};
use crate::error::{AuthError, FieldError};
use crate::mfa::MfaMethod;
use crate::mfa::routes::{
    BackupCodes, ChallengeRequest, CodeRequest, DisableRequest, EnrollEnableRequest, EnrollRequest,
    Enrolled, VerifyRequest,
};
use crate::phone::routes::{PhoneCode, PhoneRequest};
use crate::principal::Principal;

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
        if !auth.config().mfa.enabled && endpoint.is_mfa() {
            return Err(AuthError::FeatureDisabled.into());
        }
        match endpoint {
            Endpoint::Register => {
                let input = registration(self.body(request)?);
                let registered = auth.register(input, meta).await?;
                Ok(render(
                    StatusCode::CREATED,
                    &Registered {
                        user: registered.user.profile(),
                        verification_sent: registered.verification_sent,
                    },
                ))
            }
            Endpoint::RegisterStart => {
                let input = registration(self.body(request)?);
                let challenge = auth.signup().start(input, meta).await?;
                Ok(render(StatusCode::ACCEPTED, &challenge))
            }
            Endpoint::RegisterConfirm => {
                let ConfirmRegistration { challenge_id, code } = self.body(request)?;
                let registered = auth.signup().confirm(&challenge_id, &code, meta).await?;
                Ok(user_answer(StatusCode::CREATED, &registered.user))
            }
            Endpoint::VerifyEmail => {
                let user = match VerifyEmailRequest::read(self.json_body(request)?)? {
                    VerifyEmailRequest::Link(VerifyByLink { token }) => {
                        auth.email().verify(&token, meta).await?
                    }
                    VerifyEmailRequest::Code(VerifyByCode { email, code }) => {
                        auth.email().verify_code(&email, &code, meta).await?
                    }
                };
                Ok(user_answer(StatusCode::OK, &user))
            }
            Endpoint::ResendVerification => {
                let EmailRequest { email } = self.body(request)?;
                auth.email().resend(&email, meta).await?;
                Ok(accepted())
            }
            Endpoint::Login => {
                let LoginRequest { email, password } = self.body(request)?;
                let outcome = auth.login(Credentials::new(email, password), meta).await?;
                Ok(self.login_answer(outcome))
            }
            Endpoint::Refresh => self.refresh(request, meta).await,
            Endpoint::PasswordReset => {
                let EmailRequest { email } = self.body(request)?;
                auth.passwords().request_reset(&email, meta).await?;
                Ok(accepted())
            }
            Endpoint::PasswordResetConfirm => {
                let ResetConfirm {
                    token,
                    new_password,
                } = self.body(request)?;
                auth.passwords()
                    .confirm_reset(&token, &new_password, meta)
                    .await?;
                Ok(no_content())
            }
            Endpoint::EmailLookup => {
                let LookupRequest { phone } = self.body(request)?;
                let emails = auth.account().lookup_email(&phone, meta).await?;
                Ok(render(StatusCode::OK, &Emails { emails }))
            }
            Endpoint::Introspect => self.introspect(request, meta).await,
            Endpoint::Me => {
                let principal = self.principal(request)?;
                let body = auth.me_json(&principal).await?;
                Ok(raw(StatusCode::OK, "application/json", body))
            }
            Endpoint::UpdateMe => {
                let principal = self.principal(request)?;
                let update: ProfileUpdate = self.body(request)?;
                let user = auth
                    .account()
                    .update_profile(&principal, update, meta)
                    .await?;
                Ok(render(StatusCode::OK, &UserAnswer { user }))
            }
            Endpoint::Deactivate => {
                let principal = self.principal(request)?;
                let PasswordRequest { password } = self.body(request)?;
                auth.account()
                    .deactivate(&principal, &password, meta)
                    .await?;
                Ok(self.signed_out())
            }
            Endpoint::Export => {
                let principal = self.principal(request)?;
                Ok(render(
                    StatusCode::OK,
                    &auth.account().export(&principal, meta).await?,
                ))
            }
            Endpoint::MyAudit => {
                let principal = self.principal(request)?;
                let PageQuery { page, per_page } = PageQuery::read(request.uri().query())?;
                Ok(render(
                    StatusCode::OK,
                    &auth.account().audit(&principal, page, per_page).await?,
                ))
            }
            Endpoint::Logout => {
                let principal = self.principal(request)?;
                let body: Option<RefreshRequest> =
                    input::optional_typed(request, self.config().body_limit)?;
                let token = body.and_then(|body| body.refresh_token);
                auth.logout(&principal, token.as_deref(), meta).await?;
                Ok(self.signed_out())
            }
            Endpoint::LogoutAll => {
                let principal = self.principal(request)?;
                auth.sessions().revoke_all(&principal, meta).await?;
                Ok(self.signed_out())
            }
            Endpoint::Sessions => {
                let principal = self.principal(request)?;
                Ok(render(
                    StatusCode::OK,
                    &auth.sessions().list(&principal).await?,
                ))
            }
            Endpoint::RevokeSession => {
                let principal = self.principal(request)?;
                let id = params
                    .first()
                    .and_then(|id| Uuid::parse_str(id).ok())
                    .ok_or(AuthError::NotFound)?;
                auth.sessions().revoke(&principal, id, meta).await?;
                Ok(no_content())
            }
            Endpoint::ChangePassword => self.change_password(request, meta).await,
            Endpoint::MfaChallenge => {
                let ChallengeRequest { mfa_token, method } = self.body(request)?;
                // `totp` and `backup_code` parse, and the service refuses
                // them (`mfa_method_unavailable`): nothing is sent for them.
                let method: MfaMethod = input::choice("method", &method, CHALLENGE_METHODS)?;
                auth.mfa().challenge(&mfa_token, method, meta).await?;
                Ok(accepted())
            }
            Endpoint::MfaVerify => {
                let VerifyRequest {
                    mfa_token,
                    method,
                    code,
                } = self.body(request)?;
                let method = input::choice("method", &method, VERIFY_METHODS)?;
                let pair = auth.mfa().verify(&mfa_token, method, &code, meta).await?;
                Ok(self.tokens(&pair))
            }
            Endpoint::TotpSetup => {
                let principal = self.principal(request)?;
                Ok(render(
                    StatusCode::OK,
                    &auth.mfa().totp_setup(&principal, meta).await?,
                ))
            }
            Endpoint::TotpEnable => {
                let principal = self.principal(request)?;
                let CodeRequest { code } = self.body(request)?;
                let codes = auth.mfa().totp_enable(&principal, &code, meta).await?;
                Ok(backup_codes(&codes))
            }
            Endpoint::TotpDisable => {
                let principal = self.principal(request)?;
                let proof = DisableRequest::read(self.json_body(request)?)?;
                auth.mfa().totp_disable(&principal, proof, meta).await?;
                Ok(no_content())
            }
            Endpoint::BackupCodes => {
                let principal = self.principal(request)?;
                let codes = auth.mfa().regenerate_backup_codes(&principal, meta).await?;
                Ok(backup_codes(&codes))
            }
            Endpoint::EnrollTotpSetup => {
                let EnrollRequest { mfa_token } = self.body(request)?;
                Ok(render(
                    StatusCode::OK,
                    &auth.mfa().enroll_setup(&mfa_token, meta).await?,
                ))
            }
            Endpoint::EnrollTotpEnable => {
                let EnrollEnableRequest { mfa_token, code } = self.body(request)?;
                let enrolled = auth.mfa().enroll_enable(&mfa_token, &code, meta).await?;
                let answer = Enrolled {
                    tokens: TokenBody::new(&enrolled.tokens, self.config()),
                    backup_codes: &enrolled.backup_codes,
                };
                Ok(self.with_cookies(render(StatusCode::OK, &answer), &enrolled.tokens))
            }
            Endpoint::PhoneVerifyStart => {
                let principal = self.principal(request)?;
                let PhoneRequest { phone } = self.body(request)?;
                auth.phone().start(&principal, &phone, meta).await?;
                Ok(accepted())
            }
            Endpoint::PhoneVerifyConfirm => {
                let principal = self.principal(request)?;
                let PhoneCode { code } = self.body(request)?;
                let user = auth.phone().confirm(&principal, &code, meta).await?;
                Ok(render(StatusCode::OK, &UserAnswer { user }))
            }
            Endpoint::OAuthStart => self.oauth_start(param(params), request, meta).await,
            Endpoint::OAuthCallback => Ok(self.oauth_callback(param(params), request, meta).await),
            Endpoint::Identities => self.identities(request).await,
            Endpoint::LinkIdentity => self.link_identity(request, meta).await,
            Endpoint::UnlinkIdentity => self.unlink_identity(request, meta).await,
            Endpoint::OpenApi => {
                let mut response = raw(StatusCode::OK, "application/json", self.openapi_json());
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
        let body: Option<RefreshRequest> = input::optional_typed(request, config.body_limit)?;
        let had_body = body.is_some();
        let from_body = body.and_then(|body| body.refresh_token);
        let token = match from_body {
            Some(token) => token,
            None if config.cookie_mode => {
                let token = cookies::read(request.headers(), REFRESH_COOKIE)
                    .map_err(|_| AuthError::TokenInvalid)?
                    .ok_or(Failure::Malformed("A refresh token is required."))?;
                self.check_csrf(request)?;
                token.to_owned()
            }
            None if had_body => {
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
        let body = self.json_body(request)?;
        let signed = principal.is_some();
        match (principal, PasswordChangeRequest::read(signed, body)?) {
            (Some(principal), Some(PasswordChangeRequest::Signed(change))) => {
                let PasswordChange {
                    current_password,
                    new_password,
                } = change;
                self.auth()
                    .passwords()
                    .change(&principal, &current_password, &new_password, meta)
                    .await?;
                Ok(no_content())
            }
            (None, Some(PasswordChangeRequest::Forced(change))) => {
                let ForcedPasswordChange {
                    current_password,
                    new_password,
                    email,
                } = change;
                let outcome = self
                    .auth()
                    .login_with_new_password(
                        Credentials::new(email, current_password),
                        &new_password,
                        meta,
                    )
                    .await?;
                Ok(self.login_answer(outcome))
            }
            _ => Err(Failure::Unauthenticated),
        }
    }

    pub(super) fn login_answer(&self, outcome: LoginOutcome) -> Response<Bytes> {
        match outcome {
            LoginOutcome::Tokens(pair) => self.tokens(&pair),
            LoginOutcome::MfaRequired(challenge) => {
                render(StatusCode::OK, &LoginAnswer::Challenge(challenge))
            }
            LoginOutcome::MfaEnrollmentRequired(enrollment) => {
                render(StatusCode::OK, &LoginAnswer::Enrollment(enrollment))
            }
        }
    }

    /// 200 with the pair; in cookie mode the cookies, and a body without
    /// the tokens (see [`TokenBody`]).
    fn tokens(&self, pair: &TokenPair) -> Response<Bytes> {
        let body = LoginAnswer::Tokens(TokenBody::new(pair, self.config()));
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

    /// The route's request body, of type `T` (see [`input`]).
    pub(super) fn body<T: DeserializeOwned + ToSchema>(
        &self,
        request: &Request<Bytes>,
    ) -> Result<T, Failure> {
        input::typed(request, self.config().body_limit)
    }

    /// The body as a JSON object, for routes whose request type depends
    /// on which fields it has.
    pub(super) fn json_body(&self, request: &Request<Bytes>) -> Result<JsonBody, Failure> {
        input::json(request, self.config().body_limit)
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

fn registration(body: RegisterRequest) -> Registration {
    let mut input = Registration::new(body.email, body.password);
    input.display_name = body.display_name;
    input.phone = body.phone;
    input
}

fn user_answer(status: StatusCode, user: &crate::user::User) -> Response<Bytes> {
    render(
        status,
        &UserAnswer {
            user: user.profile(),
        },
    )
}

/// 200 `{backup_codes}`.
fn backup_codes(codes: &[String]) -> Response<Bytes> {
    render(
        StatusCode::OK,
        &BackupCodes {
            backup_codes: codes,
        },
    )
}

/// The fixed 202 of flows that must not disclose whether an account
/// exists, and of flows that send a code.
fn accepted() -> Response<Bytes> {
    render(StatusCode::ACCEPTED, &ACCEPTED)
}
