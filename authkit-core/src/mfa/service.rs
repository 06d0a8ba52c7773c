//! Multi-factor authentication flows: TOTP enrolment and removal, backup
//! codes, the second step of a login (`mfa_token` + a factor), and the
//! enrolment a role can demand before its first session.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::account::{LoginOutcome, PendingPassword, TokenPair};
use crate::audit::{AuthEvent, RequestMeta};
use crate::auth::{Auth, MAX_OPAQUE_TOKEN, payload};
use crate::error::{AuthError, AuthResult};
use crate::mfa::{
    MfaMethod, TotpSecret, generate_backup_codes, normalize_backup_code, otpauth_uri,
    qr_png_base64, qr_svg,
};
use crate::one_time::{CodeCheck, OneTimeToken, Purpose};
use crate::principal::Principal;
use crate::rate_limit::RateAction;
use crate::secret::{self, TokenHash};
use crate::sms::SmsMessage;
use crate::store::{LockoutPolicy, MfaStatus, TotpRecord};
use crate::user::User;
use utoipa::ToSchema;

/// `POST /mfa/totp/setup`: what the user needs to add the account to an
/// authenticator app. The enrolment stays pending until
/// [`Mfa::totp_enable`](crate::mfa::Mfa::totp_enable) confirms it with a valid code.
#[derive(Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TotpSetup {
    /// The secret in base32, for typing by hand.
    pub secret: String,
    /// The `otpauth://totp/...` URI (issuer = app name, account = email).
    pub otpauth_uri: String,
    /// The URI as a QR code, PNG, base64.
    pub qr_png_base64: String,
    /// The URI as a QR code, SVG document.
    pub qr_svg: String,
}

impl std::fmt::Debug for TotpSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSetup(<redacted>)")
    }
}

/// `POST /mfa/totp/disable`: proof that the caller may turn MFA off.
#[derive(Clone, Deserialize)]
#[serde(untagged)]
pub enum TotpDisable {
    /// `{password}`: the account password.
    Password {
        /// The password.
        password: String,
    },
    /// `{code}`: a TOTP code or a backup code.
    Code {
        /// The code.
        code: String,
    },
}

impl std::fmt::Debug for TotpDisable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Password { .. } => "TotpDisable::Password(<redacted>)",
            Self::Code { .. } => "TotpDisable::Code(<redacted>)",
        })
    }
}

/// A password login that needs a second factor: send `mfa_token` back to
/// [`Mfa::verify`](crate::mfa::Mfa::verify) (or to [`Mfa::challenge`](crate::mfa::Mfa::challenge) for an email or SMS
/// code) within the token's lifetime. Serializes to the API shape
/// `{"mfa_required": true, "mfa_token": ..., "methods": [...]}`.
#[derive(Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    /// Opaque, single-use, bound to this login attempt.
    pub mfa_token: String,
    /// The second factors this account can use now.
    pub methods: Vec<MfaMethod>,
}

impl std::fmt::Debug for MfaChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaChallenge")
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

/// The wire shape of [`MfaChallenge`]: its serializer and its schema.
#[derive(Serialize, ToSchema)]
#[schema(as = MfaChallenge)]
struct ChallengeShape<'a> {
    /// Always `true`.
    mfa_required: bool,
    /// Opaque, single-use, bound to this login attempt.
    mfa_token: &'a str,
    /// The second factors this account can use now.
    methods: &'a [MfaMethod],
}

impl Serialize for MfaChallenge {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ChallengeShape {
            mfa_required: true,
            mfa_token: &self.mfa_token,
            methods: &self.methods,
        }
        .serialize(s)
    }
}

impl utoipa::PartialSchema for MfaChallenge {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        ChallengeShape::schema()
    }
}

impl ToSchema for MfaChallenge {
    fn name() -> std::borrow::Cow<'static, str> {
        ChallengeShape::name()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        ChallengeShape::schemas(schemas);
    }
}

/// A password login of an account whose role requires MFA but that has
/// none: the only use of `mfa_token` is
/// [`Mfa::enroll_setup`](crate::mfa::Mfa::enroll_setup) then [`Mfa::enroll_enable`](crate::mfa::Mfa::enroll_enable),
/// which signs in. Serializes to
/// `{"mfa_enrollment_required": true, "mfa_token": ...}`.
#[derive(Clone, PartialEq, Eq)]
pub struct MfaEnrollment {
    /// Opaque, single-use, valid for enrolment only.
    pub mfa_token: String,
}

impl std::fmt::Debug for MfaEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaEnrollment(<redacted>)")
    }
}

/// The wire shape of [`MfaEnrollment`]: its serializer and its schema.
#[derive(Serialize, ToSchema)]
#[schema(as = MfaEnrollment)]
struct EnrollmentShape<'a> {
    /// Always `true`.
    mfa_enrollment_required: bool,
    /// Opaque, single-use, valid for enrolment only.
    mfa_token: &'a str,
}

impl Serialize for MfaEnrollment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        EnrollmentShape {
            mfa_enrollment_required: true,
            mfa_token: &self.mfa_token,
        }
        .serialize(s)
    }
}

impl utoipa::PartialSchema for MfaEnrollment {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        EnrollmentShape::schema()
    }
}

impl ToSchema for MfaEnrollment {
    fn name() -> std::borrow::Cow<'static, str> {
        EnrollmentShape::name()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        EnrollmentShape::schemas(schemas);
    }
}

/// The end of a demanded enrolment: the backup codes (shown once) and the
/// first session.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TotpEnrolled {
    /// The new backup codes.
    pub backup_codes: Vec<String>,
    /// The session the enrolment opened.
    pub tokens: TokenPair,
}

impl std::fmt::Debug for TotpEnrolled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolled")
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

/// What an `mfa_token` remembers of its login attempt.
#[derive(Serialize, Deserialize)]
struct MfaAttempt {
    ip: Option<String>,
    user_agent: Option<String>,
    /// The token only allows enrolment (a role demands MFA).
    enroll: bool,
    /// A forced password change that the second factor applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    new_password: Option<PendingPassword>,
}

/// A live `mfa_token`, its account and its attempt.
struct LiveAttempt {
    token: OneTimeToken,
    hash: TokenHash,
    user: User,
    enroll: bool,
    new_password: Option<PendingPassword>,
}

impl Auth {
    async fn verify_second_factor(
        &self,
        mfa_token: &str,
        method: MfaMethod,
        code: &str,
        meta: &RequestMeta,
    ) -> AuthResult<TokenPair> {
        self.require_mfa()?;
        if !self.inner.config.mfa.methods.contains(&method) {
            return Err(method_unavailable());
        }
        let attempt = self.live_attempt(mfa_token).await?;
        if attempt.enroll {
            return Err(AuthError::TokenInvalid);
        }
        self.throttle(RateAction::CodePerChallenge, &attempt.token.id.to_string())
            .await?;
        if !self
            .check_factor(&attempt.user, method, code, Some(attempt.token.id))
            .await?
        {
            return Err(self.mfa_failure(&attempt.user, method, meta).await);
        }
        let user = &self.finish_attempt(attempt, meta).await?;
        if method == MfaMethod::BackupCode {
            let remaining = self.inner.store.mfa.backup_codes_remaining(user.id).await?;
            self.emit(
                AuthEvent::BackupCodeUsed {
                    user_id: user.id,
                    remaining,
                },
                meta,
            )
            .await?;
        }
        self.emit(
            AuthEvent::MfaVerified {
                user_id: user.id,
                method: method.as_str().to_owned(),
            },
            meta,
        )
        .await?;
        self.open_session(user, meta).await
    }

    /// After a valid password: the MFA challenge (or enrolment demand) this
    /// account gets instead of tokens, if any. `new_password` is a forced
    /// change its `mfa_token` carries, applied only by the second factor.
    pub(crate) async fn mfa_gate(
        &self,
        user: &User,
        new_password: Option<&PendingPassword>,
        meta: &RequestMeta,
    ) -> AuthResult<Option<LoginOutcome>> {
        let config = &self.inner.config;
        if !config.mfa.enabled {
            return Ok(None);
        }
        let status = self.inner.store.mfa.mfa_status(user.id).await?;
        if status.totp_confirmed {
            let methods = self.methods_given(user, status);
            let mfa_token = self.issue_attempt(user, false, new_password, meta).await?;
            self.emit(
                AuthEvent::MfaChallenged {
                    user_id: user.id,
                    methods: methods.iter().map(|m| m.as_str().to_owned()).collect(),
                },
                meta,
            )
            .await?;
            return Ok(Some(LoginOutcome::MfaRequired(MfaChallenge {
                mfa_token,
                methods,
            })));
        }
        if user
            .roles
            .iter()
            .any(|role| config.mfa.required_roles.contains(role))
        {
            let mfa_token = self.issue_attempt(user, true, new_password, meta).await?;
            self.emit(
                AuthEvent::MfaChallenged {
                    user_id: user.id,
                    methods: Vec::new(),
                },
                meta,
            )
            .await?;
            return Ok(Some(LoginOutcome::MfaEnrollmentRequired(MfaEnrollment {
                mfa_token,
            })));
        }
        Ok(None)
    }

    /// The account's multi-factor state for `/me`.
    pub(crate) async fn mfa_summary(&self, user: &User) -> AuthResult<crate::account::MfaSummary> {
        let status = self.inner.store.mfa.mfa_status(user.id).await?;
        let enabled = self.inner.config.mfa.enabled && status.totp_confirmed;
        let methods = if enabled {
            self.methods_given(user, status)
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect()
        } else {
            Vec::new()
        };
        Ok(crate::account::MfaSummary {
            enabled,
            methods,
            backup_codes_remaining: status.backup_codes_remaining,
        })
    }

    fn require_mfa(&self) -> AuthResult<()> {
        if self.inner.config.mfa.enabled {
            Ok(())
        } else {
            Err(AuthError::FeatureDisabled)
        }
    }

    async fn totp_confirmed(&self, user_id: Uuid) -> AuthResult<bool> {
        Ok(self
            .inner
            .store
            .mfa
            .totp(user_id)
            .await?
            .is_some_and(|r| r.is_confirmed()))
    }

    /// The offered methods this account can use now: TOTP when confirmed,
    /// backup codes while some are left, email when the address is
    /// verified, SMS when the phone is and texts may go to its country.
    async fn methods_for(&self, user: &User) -> AuthResult<Vec<MfaMethod>> {
        let status = self.inner.store.mfa.mfa_status(user.id).await?;
        Ok(self.methods_given(user, status))
    }

    /// [`methods_for`](Self::methods_for) from an already read status.
    fn methods_given(&self, user: &User, status: MfaStatus) -> Vec<MfaMethod> {
        let (totp, backup) = (status.totp_confirmed, status.backup_codes_remaining > 0);
        MfaMethod::ALL
            .into_iter()
            .filter(|m| self.inner.config.mfa.methods.contains(m))
            .filter(|m| match m {
                MfaMethod::Totp => totp,
                MfaMethod::BackupCode => totp && backup,
                MfaMethod::Email => totp && user.email_verified(),
                MfaMethod::Sms => {
                    totp && user.phone_verified()
                        && user
                            .phone
                            .as_ref()
                            .is_some_and(|phone| self.sms_country_allowed(phone))
                }
            })
            .collect()
    }

    async fn start_totp(&self, user: &User, meta: &RequestMeta) -> AuthResult<TotpSetup> {
        let config = &self.inner.config;
        let secret = TotpSecret::generate();
        let record = TotpRecord {
            user_id: user.id,
            secret: self.inner.cipher.encrypt(user.id, secret.as_bytes())?,
            params: config.mfa.totp,
            created_at: self.now(),
            confirmed_at: None,
            last_step: None,
        };
        if !self.inner.store.mfa.put_totp(&record).await? {
            return Err(already_enabled());
        }
        let uri = otpauth_uri(
            &config.app_name,
            user.email.as_str(),
            &secret,
            config.mfa.totp,
        );
        let setup = TotpSetup {
            secret: secret.to_base32(),
            qr_png_base64: qr_png_base64(&uri)?,
            qr_svg: qr_svg(&uri)?,
            otpauth_uri: uri,
        };
        self.emit(AuthEvent::TotpSetupStarted { user_id: user.id }, meta)
            .await?;
        Ok(setup)
    }

    async fn confirm_totp(
        &self,
        user: &User,
        code: &str,
        meta: &RequestMeta,
    ) -> AuthResult<Vec<String>> {
        let store = &self.inner.store.mfa;
        let record = match store.totp(user.id).await? {
            None => {
                return Err(AuthError::invalid_field(
                    "code",
                    "mfa_setup_required",
                    "Start the TOTP setup first.",
                ));
            }
            Some(record) if record.is_confirmed() => return Err(already_enabled()),
            Some(record) => record,
        };
        let secret = self.decrypt_secret(&record)?;
        let step = secret
            .matching_step(record.params, code, self.now().timestamp())?
            .ok_or(AuthError::MfaInvalidCode)?;
        if !store
            .confirm_totp(user.id, &record.secret, step, self.now())
            .await?
        {
            // Confirmed or replaced meanwhile by a concurrent request.
            return Err(AuthError::MfaInvalidCode);
        }
        let codes = self.new_backup_codes(user.id).await?;
        self.emit(
            AuthEvent::MfaEnabled {
                user_id: user.id,
                method: MfaMethod::Totp.as_str().to_owned(),
            },
            meta,
        )
        .await?;
        self.notify(user, |t, app| t.mfa_enabled(app)).await;
        Ok(codes)
    }

    fn decrypt_secret(&self, record: &TotpRecord) -> AuthResult<TotpSecret> {
        let plain = self.inner.cipher.decrypt(record.user_id, &record.secret)?;
        Ok(TotpSecret::from_bytes(plain.to_vec()))
    }

    async fn new_backup_codes(&self, user_id: Uuid) -> AuthResult<Vec<String>> {
        let codes = generate_backup_codes();
        let subject = user_id.to_string();
        let hashes: Vec<TokenHash> = codes
            .iter()
            .filter_map(|code| normalize_backup_code(code))
            .map(|code| self.backup_code_hash(&subject, &code))
            .collect();
        self.inner
            .store
            .mfa
            .replace_backup_codes(user_id, &hashes, self.now())
            .await?;
        Ok(codes)
    }

    fn backup_code_hash(&self, subject: &str, normalized: &str) -> TokenHash {
        TokenHash::of_code(
            &self.inner.config.secret_key,
            "backup_code",
            subject,
            normalized,
        )
    }

    /// Checks one factor, spending it on success (TOTP step, backup code,
    /// emailed or texted code). `attempt` is the login attempt emailed and
    /// texted codes are bound to.
    async fn check_factor(
        &self,
        user: &User,
        method: MfaMethod,
        code: &str,
        attempt: Option<Uuid>,
    ) -> AuthResult<bool> {
        let store = &self.inner.store.mfa;
        let now = self.now();
        match method {
            MfaMethod::Totp => {
                let Some(record) = store.totp(user.id).await?.filter(|r| r.is_confirmed()) else {
                    return Ok(false);
                };
                let secret = self.decrypt_secret(&record)?;
                match secret.matching_step(record.params, code, now.timestamp())? {
                    // Atomic: a step at or below the last accepted is a
                    // replay, and of concurrent uses of one code only one
                    // advances the step.
                    Some(step) => store.accept_totp_step(user.id, step).await,
                    None => Ok(false),
                }
            }
            MfaMethod::BackupCode => match normalize_backup_code(code) {
                Some(normalized) => {
                    let hash = self.backup_code_hash(&user.id.to_string(), &normalized);
                    store.consume_backup_code(user.id, &hash, now).await
                }
                None => Ok(false),
            },
            MfaMethod::Email | MfaMethod::Sms => {
                let Some(attempt) = attempt else {
                    return Ok(false);
                };
                let purpose = if method == MfaMethod::Email {
                    Purpose::MfaEmailCode
                } else {
                    Purpose::MfaSmsCode
                };
                if code.len() > 32 {
                    return Ok(false);
                }
                let subject = attempt.to_string();
                let hash = self.code_hash(purpose, &subject, code);
                Ok(matches!(
                    self.inner
                        .store
                        .tokens
                        .check_code(purpose, &subject, &hash, now)
                        .await?,
                    CodeCheck::Accepted(_)
                ))
            }
        }
    }

    /// Counts a failed second factor against the account's budget, locking
    /// the account once it is spent; returns the error to answer.
    async fn mfa_failure(&self, user: &User, method: MfaMethod, meta: &RequestMeta) -> AuthError {
        match self.count_mfa_failure(user, method, meta).await {
            Ok(()) => AuthError::MfaInvalidCode,
            Err(err) => err,
        }
    }

    async fn count_mfa_failure(
        &self,
        user: &User,
        method: MfaMethod,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        let config = &self.inner.config;
        let now = self.now();
        let failures = self
            .inner
            .store
            .mfa
            .record_mfa_failure(user.id, now, config.lockout.window)
            .await?;
        self.emit(
            AuthEvent::MfaFailed {
                user_id: user.id,
                method: method.as_str().to_owned(),
                failures,
            },
            meta,
        )
        .await?;
        if failures >= config.mfa.max_failures {
            // The budget is spent: lock exactly like a password lockout
            // (a policy of one failure locks at once).
            let policy = LockoutPolicy {
                max_failures: 1,
                ..config.lockout
            };
            self.record_lockout_failure(user, policy, meta).await?;
        }
        Ok(())
    }

    /// Issues the `mfa_token` of a login attempt (newest-only per account).
    async fn issue_attempt(
        &self,
        user: &User,
        enroll: bool,
        new_password: Option<&PendingPassword>,
        meta: &RequestMeta,
    ) -> AuthResult<String> {
        let now = self.now();
        let token = secret::token256();
        self.inner
            .store
            .tokens
            .issue_token(&OneTimeToken {
                id: Uuid::now_v7(),
                purpose: Purpose::MfaLogin,
                subject: user.id.to_string(),
                hash: TokenHash::of_token(&token),
                payload: payload(&MfaAttempt {
                    ip: meta.ip.clone(),
                    user_agent: meta.user_agent.clone(),
                    enroll,
                    new_password: new_password.cloned(),
                })?,
                created_at: now,
                expires_at: now + self.inner.config.mfa.token_ttl,
                attempts: 0,
                max_attempts: 1,
                consumed_at: None,
            })
            .await?;
        Ok(token)
    }

    /// The live attempt of `mfa_token`, with an account still allowed in.
    async fn live_attempt(&self, mfa_token: &str) -> AuthResult<LiveAttempt> {
        if mfa_token.is_empty() || mfa_token.len() > MAX_OPAQUE_TOKEN {
            return Err(AuthError::TokenInvalid);
        }
        let hash = TokenHash::of_token(mfa_token);
        let token = self
            .inner
            .store
            .tokens
            .find_token(Purpose::MfaLogin, &hash, self.now())
            .await?
            .ok_or(AuthError::TokenInvalid)?;
        let attempt: MfaAttempt =
            serde_json::from_value(token.payload.clone()).map_err(AuthError::internal)?;
        let user_id = Uuid::parse_str(&token.subject).map_err(AuthError::internal)?;
        let user = self
            .user(user_id)
            .await
            .map_err(|_| AuthError::TokenInvalid)?;
        if !user.is_active {
            return Err(AuthError::AccountInactive);
        }
        let now = self.now();
        if user.is_locked(now) {
            return Err(AuthError::AccountLocked {
                until: user.lock_ends(now),
            });
        }
        if attempt
            .new_password
            .as_ref()
            .is_some_and(|change| !change.is_current_for(&user))
        {
            // The password changed since (a reset): the pending change is
            // stale and the attempt with it.
            return Err(AuthError::TokenInvalid);
        }
        Ok(LiveAttempt {
            token,
            hash,
            user,
            enroll: attempt.enroll,
            new_password: attempt.new_password,
        })
    }

    /// Spends the attempt's `mfa_token` (once: a concurrent success wins),
    /// resets the failure budget, and applies the forced password change
    /// the attempt carries, if any (revoking every session). Answers the
    /// account as it now is.
    async fn finish_attempt(&self, attempt: LiveAttempt, meta: &RequestMeta) -> AuthResult<User> {
        self.inner
            .store
            .tokens
            .consume_token(Purpose::MfaLogin, &attempt.hash, self.now())
            .await?
            .filter(|t| t.id == attempt.token.id)
            .ok_or(AuthError::TokenInvalid)?;
        self.inner
            .store
            .mfa
            .clear_mfa_failures(attempt.user.id)
            .await?;
        match attempt.new_password {
            Some(change) => {
                self.apply_password(attempt.user, change.hash, None, meta)
                    .await
            }
            None => Ok(attempt.user),
        }
    }
}

fn method_unavailable() -> AuthError {
    AuthError::invalid_field(
        "method",
        "mfa_method_unavailable",
        "This verification method is not available for this account.",
    )
}

fn already_enabled() -> AuthError {
    AuthError::invalid_field(
        "totp",
        "mfa_already_enabled",
        "Two-step verification is already on; turn it off first.",
    )
}

crate::auth::feature_handle! {
    /// Multi-factor authentication: TOTP enrolment and removal, backup codes,
    /// the second step of a login, and the enrolment a role can demand.
    Mfa, mfa
}

impl Mfa<'_> {
    /// Starts (or restarts) a TOTP enrolment for the caller: a new 160-bit
    /// secret, encrypted at rest, pending until confirmed.
    ///
    /// # Errors
    /// `FeatureDisabled`; `Validation` (`mfa_already_enabled`) when TOTP is
    /// on already (disable it first).
    pub async fn totp_setup(
        self,
        principal: &Principal,
        meta: &RequestMeta,
    ) -> AuthResult<TotpSetup> {
        self.auth.require_mfa()?;
        let user = self.auth.user(principal.user_id).await?;
        self.auth.start_totp(&user, meta).await
    }

    /// Confirms the caller's pending enrolment with a current code: TOTP is
    /// on from now, and the answer holds 10 new backup codes, shown once.
    ///
    /// # Errors
    /// `FeatureDisabled`; `Validation` (`mfa_setup_required`,
    /// `mfa_already_enabled`); `MfaInvalidCode`.
    pub async fn totp_enable(
        self,
        principal: &Principal,
        code: &str,
        meta: &RequestMeta,
    ) -> AuthResult<Vec<String>> {
        self.auth.require_mfa()?;
        let user = self.auth.user(principal.user_id).await?;
        self.auth.confirm_totp(&user, code, meta).await
    }

    /// Turns TOTP off for the caller (and deletes the backup codes), after
    /// the password or a valid TOTP or backup code. The password check is
    /// a re-authentication (throttled per account and per IP, failures
    /// count towards the lockout, a locked account is refused).
    ///
    /// # Errors
    /// `FeatureDisabled`; `NotFound` without an enrolment; `RateLimited`;
    /// `InvalidCredentials` (counts towards lockout); `AccountLocked`;
    /// `MfaInvalidCode` (counts towards the MFA failure budget).
    pub async fn totp_disable(
        self,
        principal: &Principal,
        proof: TotpDisable,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        self.auth.require_mfa()?;
        let user = self.auth.user(principal.user_id).await?;
        let record = self
            .auth
            .inner
            .store
            .mfa
            .totp(user.id)
            .await?
            .ok_or(AuthError::NotFound)?;
        if record.is_confirmed() {
            match proof {
                TotpDisable::Password { password } => {
                    self.auth.recheck_password(&user, &password, meta).await?;
                }
                TotpDisable::Code { code } => {
                    let method = if normalize_backup_code(&code).is_some() {
                        MfaMethod::BackupCode
                    } else {
                        MfaMethod::Totp
                    };
                    if !self.auth.check_factor(&user, method, &code, None).await? {
                        return Err(self.auth.mfa_failure(&user, method, meta).await);
                    }
                }
            }
        }
        let store = &self.auth.inner.store.mfa;
        store.delete_totp(user.id).await?;
        store
            .replace_backup_codes(user.id, &[], self.auth.now())
            .await?;
        if record.is_confirmed() {
            self.auth
                .emit(
                    AuthEvent::MfaDisabled {
                        user_id: user.id,
                        method: MfaMethod::Totp.as_str().to_owned(),
                    },
                    meta,
                )
                .await?;
            self.auth.notify(&user, |t, app| t.mfa_disabled(app)).await;
        }
        Ok(())
    }

    /// Replaces the caller's backup codes with 10 new ones (shown once);
    /// the old ones stop working.
    ///
    /// # Errors
    /// `FeatureDisabled`; `Validation` (`mfa_not_enabled`) without TOTP.
    pub async fn regenerate_backup_codes(
        self,
        principal: &Principal,
        meta: &RequestMeta,
    ) -> AuthResult<Vec<String>> {
        self.auth.require_mfa()?;
        let user = self.auth.user(principal.user_id).await?;
        if !self.auth.totp_confirmed(user.id).await? {
            return Err(AuthError::invalid_field(
                "mfa",
                "mfa_not_enabled",
                "Turn on two-step verification first.",
            ));
        }
        let codes = self.auth.new_backup_codes(user.id).await?;
        self.auth
            .emit(AuthEvent::BackupCodesRegenerated { user_id: user.id }, meta)
            .await?;
        self.auth
            .notify(&user, |t, app| t.backup_codes_regenerated(app))
            .await;
        Ok(codes)
    }

    /// Sends a 6-digit code for the login attempt of `mfa_token`, by email
    /// (to the account's address) or SMS (to its verified phone). Each new
    /// code replaces the previous one of the attempt; the account's failure
    /// budget is not reset. A text also spends from the SMS budgets (per
    /// account, client IP, number and in all).
    ///
    /// # Errors
    /// `FeatureDisabled`; `Validation` (`mfa_method_unavailable`) for a
    /// method that is not offered, not `email`/`sms`, or not usable by the
    /// account (SMS to a country not allowed included); `TokenInvalid`;
    /// `AccountLocked`; `RateLimited`.
    pub async fn challenge(
        self,
        mfa_token: &str,
        method: MfaMethod,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        self.auth.require_mfa()?;
        let purpose = match method {
            MfaMethod::Email => Purpose::MfaEmailCode,
            MfaMethod::Sms => Purpose::MfaSmsCode,
            MfaMethod::Totp | MfaMethod::BackupCode => return Err(method_unavailable()),
        };
        let attempt = self.auth.live_attempt(mfa_token).await?;
        if attempt.enroll {
            return Err(AuthError::TokenInvalid);
        }
        let user = &attempt.user;
        if !self.auth.methods_for(user).await?.contains(&method) {
            return Err(method_unavailable());
        }
        self.auth
            .throttle(RateAction::ResendPerEmail, &format!("mfa-code:{}", user.id))
            .await?;
        if let (MfaMethod::Sms, Some(phone)) = (method, &user.phone) {
            self.auth.spend_sms_budget(user.id, phone, meta).await?;
        }
        let config = &self.auth.inner.config;
        let now = self.auth.now();
        let subject = attempt.token.id.to_string();
        let code = secret::numeric_code(6);
        self.auth
            .inner
            .store
            .tokens
            .issue_token(&OneTimeToken {
                id: Uuid::now_v7(),
                purpose,
                hash: self.auth.code_hash(purpose, &subject, &code),
                subject,
                payload: serde_json::Value::Null,
                created_at: now,
                expires_at: now + config.code_ttl,
                attempts: 0,
                max_attempts: config.code_max_attempts,
                consumed_at: None,
            })
            .await?;
        let minutes = config.code_ttl.num_minutes();
        match (method, &user.phone) {
            (MfaMethod::Sms, Some(phone)) => {
                let body = self
                    .auth
                    .inner
                    .notices
                    .mfa_code_sms(&config.app_name, &code, minutes);
                self.auth
                    .inner
                    .sms
                    .send(SmsMessage {
                        to: phone.as_str().to_owned(),
                        body,
                    })
                    .await?;
            }
            _ => {
                let rendered =
                    self.auth
                        .inner
                        .notices
                        .mfa_code_email(&config.app_name, &code, minutes);
                self.auth.send_mail(user, rendered).await?;
            }
        }
        self.auth
            .emit(
                AuthEvent::MfaCodeSent {
                    user_id: user.id,
                    method: method.as_str().to_owned(),
                },
                meta,
            )
            .await
    }

    /// The second step of a login: checks `code` with `method` for the
    /// attempt of `mfa_token` and opens the session. Every failure counts
    /// against the account's MFA budget (shared by all methods and not
    /// reset by a new login or code); spending it locks the account like
    /// a password lockout. The `mfa_token` is spent by the success only.
    ///
    /// A token answered by a forced password change
    /// ([`login_with_new_password`](crate::Auth::login_with_new_password)) carries
    /// the new password's hash: the success sets it and revokes every
    /// session before opening the new one. If the password changed in
    /// between (a reset), the token is `TokenInvalid` and nothing changes.
    ///
    /// # Errors
    /// `FeatureDisabled`; `Validation` (`mfa_method_unavailable`);
    /// `TokenInvalid` (unknown, expired, used or superseded token);
    /// `MfaInvalidCode`; `AccountLocked`; `AccountInactive`; `RateLimited`.
    pub async fn verify(
        self,
        mfa_token: &str,
        method: MfaMethod,
        code: &str,
        meta: &RequestMeta,
    ) -> AuthResult<TokenPair> {
        let result = self
            .auth
            .verify_second_factor(mfa_token, method, code, meta)
            .await;
        crate::telemetry::mfa_verification(method.as_str(), &result);
        result
    }

    /// Starts the TOTP enrolment a role demands, with the `mfa_token` of
    /// [`LoginOutcome::MfaEnrollmentRequired`].
    ///
    /// # Errors
    /// `FeatureDisabled`; `TokenInvalid` (also for a login challenge's
    /// token); as [`Mfa::totp_setup`](crate::mfa::Mfa::totp_setup).
    pub async fn enroll_setup(self, mfa_token: &str, meta: &RequestMeta) -> AuthResult<TotpSetup> {
        self.auth.require_mfa()?;
        let attempt = self.auth.live_attempt(mfa_token).await?;
        if !attempt.enroll {
            return Err(AuthError::TokenInvalid);
        }
        self.auth.start_totp(&attempt.user, meta).await
    }

    /// Confirms the demanded enrolment with a current code and signs in:
    /// answers the backup codes and the first session.
    ///
    /// # Errors
    /// `FeatureDisabled`; `TokenInvalid`; as
    /// [`Mfa::totp_enable`](crate::mfa::Mfa::totp_enable).
    pub async fn enroll_enable(
        self,
        mfa_token: &str,
        code: &str,
        meta: &RequestMeta,
    ) -> AuthResult<TotpEnrolled> {
        self.auth.require_mfa()?;
        let attempt = self.auth.live_attempt(mfa_token).await?;
        if !attempt.enroll {
            return Err(AuthError::TokenInvalid);
        }
        let backup_codes = self.auth.confirm_totp(&attempt.user, code, meta).await?;
        let user = self.auth.finish_attempt(attempt, meta).await?;
        let tokens = self.auth.open_session(&user, meta).await?;
        Ok(TotpEnrolled {
            backup_codes,
            tokens,
        })
    }
}
