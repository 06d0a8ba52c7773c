//! Registration (direct, or confirmed by an emailed code) and email
//! verification.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{AuthEvent, RequestMeta};
use crate::auth::{Auth, MAX_DISPLAY_NAME, MAX_OPAQUE_TOKEN, payload};
use crate::email::{Email, Phone};
use crate::error::{AuthError, AuthResult, FieldError};
use crate::one_time::{CodeCheck, OneTimeToken, Purpose};
use crate::rate_limit::RateAction;
use crate::secret::{self, TokenHash};
use crate::store::UserUpdate;
use crate::user::User;
use utoipa::ToSchema;

/// Input of [`Auth::register`] and [`Signup::start`](crate::account::Signup::start).
#[derive(Debug, Clone, Deserialize)]
pub struct Registration {
    /// Email address (normalized by the service).
    pub email: String,
    /// Chosen password.
    pub password: String,
    /// Optional display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Optional phone number (E.164, unverified until proven).
    #[serde(default)]
    pub phone: Option<String>,
}

impl Registration {
    /// A registration with just an email and a password.
    pub fn new(email: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            password: password.into(),
            display_name: None,
            phone: None,
        }
    }
}

/// Result of a registration.
#[derive(Debug, Clone)]
pub struct Registered {
    /// The new account.
    pub user: User,
    /// Whether a verification email was sent.
    pub verification_sent: bool,
}

/// A pending code-confirmed registration (`/register/start`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RegistrationChallenge {
    /// Signed id to send back with the code.
    pub challenge_id: String,
    /// Seconds until the code expires.
    pub expires_in: i64,
}

/// What a registration challenge remembers until it is confirmed.
#[derive(Serialize, Deserialize)]
struct PendingRegistration {
    email: String,
    password_hash: String,
    display_name: Option<String>,
    phone: Option<String>,
}

/// A registration input after validation, with the password hashed.
struct ValidRegistration {
    email: Email,
    password_hash: String,
    display_name: Option<String>,
    phone: Option<Phone>,
}

impl Auth {
    /// Creates an account. With `require_email_verification`, the account
    /// gets a verification email (link and code) and cannot log in until it
    /// is verified.
    ///
    /// # Errors
    /// `RegistrationClosed`, `RateLimited`, `Validation`, `PasswordTooWeak`,
    /// `EmailTaken`.
    pub async fn register(
        &self,
        input: Registration,
        meta: &RequestMeta,
    ) -> AuthResult<Registered> {
        let valid = self.validate_registration(&input, None, meta).await?;
        let mut user = User::new(valid.email, self.now());
        user.password_hash = Some(valid.password_hash);
        user.password_changed_at = Some(user.created_at);
        user.display_name = valid.display_name;
        user.phone = valid.phone;
        self.inner.store.users.create_user(&user).await?;
        self.emit(AuthEvent::UserRegistered { user_id: user.id }, meta)
            .await?;
        let verification_sent = self.inner.config.account.require_email_verification;
        if verification_sent {
            self.send_verification(&user, meta).await?;
        }
        Ok(Registered {
            user,
            verification_sent,
        })
    }

    /// Checks a registration input and hashes its password. `per_email`,
    /// when given, throttles the (well-formed, normalized) address before
    /// the password is hashed.
    async fn validate_registration(
        &self,
        input: &Registration,
        per_email: Option<RateAction>,
        meta: &RequestMeta,
    ) -> AuthResult<ValidRegistration> {
        if !self.inner.config.account.allow_auto_registration {
            return Err(AuthError::RegistrationClosed);
        }
        self.throttle_ip(RateAction::RegisterPerIp, meta).await?;
        let mut errors = Vec::new();
        let email = keep(&mut errors, Email::parse(&input.email).map(Some));
        let display_name = keep(
            &mut errors,
            input
                .display_name
                .as_deref()
                .map(clean_display_name)
                .transpose(),
        );
        let phone = keep(
            &mut errors,
            input
                .phone
                .as_deref()
                .filter(|p| !p.trim().is_empty())
                .map(Phone::parse)
                .transpose(),
        );
        let (Some(Some(email)), Some(display_name), Some(phone)) = (email, display_name, phone)
        else {
            return Err(AuthError::Validation(errors));
        };
        if let Some(action) = per_email {
            self.throttle(action, email.as_str()).await?;
        }
        let display_name = display_name.flatten();
        let mut context = vec![email.as_str()];
        if let Some((local, _)) = email.as_str().split_once('@') {
            context.push(local);
        }
        if let Some(name) = &display_name {
            context.push(name);
        }
        self.inner
            .config
            .password_policy
            .validate(&input.password, &context)?;
        let password_hash = self
            .inner
            .hasher
            .hash_for_client(&self.client_key(meta), &input.password)
            .await?;
        Ok(ValidRegistration {
            email,
            password_hash,
            display_name,
            phone,
        })
    }

    /// Issues a link token and a code for the account's email and mails
    /// both; each new pair supersedes the previous one.
    pub(crate) async fn send_verification(
        &self,
        user: &User,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        let config = &self.inner.config;
        let now = self.now();
        let subject = user.id.to_string();
        let link_token = secret::token256();
        let code = secret::numeric_code(6);
        let base = OneTimeToken {
            id: Uuid::now_v7(),
            purpose: Purpose::VerifyEmail,
            subject: subject.clone(),
            hash: TokenHash::of_token(&link_token),
            payload: serde_json::Value::Null,
            created_at: now,
            expires_at: now + config.account.verify_email_ttl,
            attempts: 0,
            max_attempts: 1,
            consumed_at: None,
        };
        let code_token = OneTimeToken {
            id: Uuid::now_v7(),
            purpose: Purpose::VerifyEmailCode,
            hash: self.code_hash(Purpose::VerifyEmailCode, &subject, &code),
            expires_at: now + config.code_ttl,
            max_attempts: config.code_max_attempts,
            ..base.clone()
        };
        self.inner.store.tokens.issue_token(&base).await?;
        self.inner.store.tokens.issue_token(&code_token).await?;
        let link = self.link(&config.account.verify_email_path, &link_token);
        let rendered = self.inner.templates.verify_email(
            &config.app_name,
            &link,
            &code,
            config.account.verify_email_ttl.num_minutes(),
        );
        self.send_mail(user, rendered).await?;
        self.emit(AuthEvent::VerificationSent { user_id: user.id }, meta)
            .await
    }

    async fn mark_verified(&self, user_id: Uuid, meta: &RequestMeta) -> AuthResult<User> {
        let user = self
            .user(user_id)
            .await
            .map_err(|_| AuthError::TokenInvalid)?;
        if user.email_verified_at.is_some() {
            return Ok(user);
        }
        if self.update_user(user_id, UserUpdate::EmailVerified).await? {
            self.emit(AuthEvent::EmailVerified { user_id }, meta)
                .await?;
        }
        self.user(user_id).await
    }

    pub(crate) fn code_hash(&self, purpose: Purpose, subject: &str, code: &str) -> TokenHash {
        TokenHash::of_code(
            &self.inner.config.secret_key,
            purpose.as_str(),
            subject,
            code.trim(),
        )
    }

    /// `<uuid>.<base64url HMAC>`: a tampered id is refused before any
    /// store lookup.
    fn sign_challenge(&self, id: Uuid) -> String {
        let mac = secret::hmac_sha256(&self.inner.config.secret_key, &challenge_message(id));
        format!("{id}.{}", URL_SAFE_NO_PAD.encode(mac))
    }

    fn verify_challenge(&self, challenge_id: &str) -> AuthResult<Uuid> {
        let (id, mac) = challenge_id
            .split_once('.')
            .ok_or(AuthError::TokenInvalid)?;
        let id = Uuid::parse_str(id).map_err(|_| AuthError::TokenInvalid)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| AuthError::TokenInvalid)?;
        let expected = secret::hmac_sha256(&self.inner.config.secret_key, &challenge_message(id));
        if secret::ct_eq(&mac, &expected) {
            Ok(id)
        } else {
            Err(AuthError::TokenInvalid)
        }
    }
}

/// The value of `result`, or `None` with its field errors collected.
fn keep<T>(errors: &mut Vec<FieldError>, result: AuthResult<T>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(err) => {
            errors.extend_from_slice(err.field_errors());
            None
        }
    }
}

fn challenge_message(id: Uuid) -> Vec<u8> {
    let mut msg = b"authkit.register_challenge.".to_vec();
    msg.extend_from_slice(id.as_bytes());
    msg
}

/// Trims a display name; empty means none. Refuses control characters and
/// overlong names.
pub(crate) fn clean_display_name(raw: &str) -> AuthResult<Option<String>> {
    let name = raw.trim();
    if name.chars().any(char::is_control) || name.chars().count() > MAX_DISPLAY_NAME {
        return Err(AuthError::invalid_field(
            "display_name",
            "display_name_invalid",
            "Display names are at most 150 characters, without control characters.",
        ));
    }
    Ok((!name.is_empty()).then(|| name.to_owned()))
}

crate::auth::feature_handle! {
    /// Registration confirmed by an emailed code before the account exists.
    Signup, signup
}

impl Signup<'_> {
    /// Starts a registration that an emailed 6-digit code confirms. The
    /// account is created only by [`Signup::confirm`](crate::account::Signup::confirm),
    /// already verified. Whether the email is taken is not revealed here.
    ///
    /// Every start and every confirmation check for one address spends
    /// one unit of that address's budget
    /// ([`RateAction::RegisterCodePerEmail`]), shared by all its
    /// challenges: a new challenge (a new code) does not refill it, so
    /// parallel challenges cannot multiply the guesses at the code. Once
    /// it is spent, both routes answer `RateLimited` for the address,
    /// whether or not an account has it.
    ///
    /// # Errors
    /// `RegistrationClosed`, `RateLimited`, `Validation`, `PasswordTooWeak`.
    pub async fn start(
        self,
        input: Registration,
        meta: &RequestMeta,
    ) -> AuthResult<RegistrationChallenge> {
        let valid = self
            .auth
            .validate_registration(&input, Some(RateAction::RegisterCodePerEmail), meta)
            .await?;
        let config = &self.auth.inner.config;
        let now = self.auth.now();
        let challenge = Uuid::now_v7();
        let subject = challenge.to_string();
        let code = secret::numeric_code(6);
        let pending = PendingRegistration {
            email: valid.email.as_str().to_owned(),
            password_hash: valid.password_hash,
            display_name: valid.display_name,
            phone: valid.phone.map(|p| p.as_str().to_owned()),
        };
        let token = OneTimeToken {
            id: Uuid::now_v7(),
            purpose: Purpose::RegisterOtp,
            hash: TokenHash::of_code(
                &config.secret_key,
                Purpose::RegisterOtp.as_str(),
                &subject,
                &code,
            ),
            subject,
            payload: payload(&pending)?,
            created_at: now,
            expires_at: now + config.code_ttl,
            attempts: 0,
            max_attempts: config.code_max_attempts,
            consumed_at: None,
        };
        self.auth.inner.store.tokens.issue_token(&token).await?;
        let rendered = self.auth.inner.templates.registration_code(
            &config.app_name,
            &code,
            config.code_ttl.num_minutes(),
        );
        // No account exists yet, so the code goes to the validated,
        // normalized address being registered.
        let recipient = User::new(valid.email, now);
        self.auth.send_mail(&recipient, rendered).await?;
        Ok(RegistrationChallenge {
            challenge_id: self.auth.sign_challenge(challenge),
            expires_in: config.code_ttl.num_seconds(),
        })
    }

    /// Confirms a registration with its emailed code; creates the account
    /// with a verified email. Each check is throttled per challenge and
    /// spends one unit of the address's budget shared by all its
    /// challenges (see [`Signup::start`](crate::account::Signup::start)).
    ///
    /// # Errors
    /// `TokenInvalid` for a forged, unknown, expired or exhausted challenge;
    /// `MfaInvalidCode` for a wrong code; `RateLimited`; `EmailTaken`.
    pub async fn confirm(
        self,
        challenge_id: &str,
        code: &str,
        meta: &RequestMeta,
    ) -> AuthResult<Registered> {
        let challenge = self.auth.verify_challenge(challenge_id)?;
        let subject = challenge.to_string();
        self.auth
            .throttle(RateAction::CodePerChallenge, &subject)
            .await?;
        let live = self
            .auth
            .inner
            .store
            .tokens
            .peek_token(Purpose::RegisterOtp, &subject, self.auth.now())
            .await?
            .ok_or(AuthError::TokenInvalid)?;
        let pending: PendingRegistration =
            serde_json::from_value(live.payload).map_err(AuthError::internal)?;
        self.auth
            .throttle(RateAction::RegisterCodePerEmail, &pending.email)
            .await?;
        let hash = self.auth.code_hash(Purpose::RegisterOtp, &subject, code);
        let token = match self
            .auth
            .inner
            .store
            .tokens
            .check_code(Purpose::RegisterOtp, &subject, &hash, self.auth.now())
            .await?
        {
            CodeCheck::Accepted(token) => token,
            CodeCheck::Rejected { .. } => return Err(AuthError::MfaInvalidCode),
            CodeCheck::Missing => return Err(AuthError::TokenInvalid),
        };
        let pending: PendingRegistration =
            serde_json::from_value(token.payload).map_err(AuthError::internal)?;
        let now = self.auth.now();
        let mut user = User::new(Email::parse(&pending.email)?, now);
        user.email_verified_at = Some(now);
        user.password_hash = Some(pending.password_hash);
        user.password_changed_at = Some(now);
        user.display_name = pending.display_name;
        user.phone = pending.phone.as_deref().map(Phone::parse).transpose()?;
        self.auth.inner.store.users.create_user(&user).await?;
        self.auth
            .emit(AuthEvent::UserRegistered { user_id: user.id }, meta)
            .await?;
        self.auth
            .emit(AuthEvent::EmailVerified { user_id: user.id }, meta)
            .await?;
        Ok(Registered {
            user,
            verification_sent: false,
        })
    }
}

crate::auth::feature_handle! {
    /// Email verification: by link, by code, and sending it again.
    EmailVerification, email
}

impl EmailVerification<'_> {
    /// Verifies an email address with the token from the emailed link.
    ///
    /// # Errors
    /// `TokenInvalid` for an unknown, used, expired or superseded token.
    pub async fn verify(self, token: &str, meta: &RequestMeta) -> AuthResult<User> {
        if token.is_empty() || token.len() > MAX_OPAQUE_TOKEN {
            return Err(AuthError::TokenInvalid);
        }
        let consumed = self
            .auth
            .inner
            .store
            .tokens
            .consume_token(
                Purpose::VerifyEmail,
                &TokenHash::of_token(token),
                self.auth.now(),
            )
            .await?
            .ok_or(AuthError::TokenInvalid)?;
        let user_id = Uuid::parse_str(&consumed.subject).map_err(AuthError::internal)?;
        self.auth.mark_verified(user_id, meta).await
    }

    /// Verifies an email address with the 6-digit code from the email.
    /// Unknown addresses, wrong codes and dead codes (expired, used, out of
    /// attempts) all answer alike, so the answer discloses no account.
    ///
    /// # Errors
    /// `MfaInvalidCode`; `RateLimited` once the address's failure budget
    /// is spent (a new code does not refill it).
    pub async fn verify_code(
        self,
        email: &str,
        code: &str,
        meta: &RequestMeta,
    ) -> AuthResult<User> {
        let email = Email::parse(email).map_err(|_| AuthError::MfaInvalidCode)?;
        self.auth
            .throttle(RateAction::CodePerAccount, email.as_str())
            .await?;
        let user = self
            .auth
            .inner
            .store
            .users
            .user_by_email(&email)
            .await?
            .ok_or(AuthError::MfaInvalidCode)?;
        let subject = user.id.to_string();
        let hash = self
            .auth
            .code_hash(Purpose::VerifyEmailCode, &subject, code);
        match self
            .auth
            .inner
            .store
            .tokens
            .check_code(Purpose::VerifyEmailCode, &subject, &hash, self.auth.now())
            .await?
        {
            CodeCheck::Accepted(_) => self.auth.mark_verified(user.id, meta).await,
            CodeCheck::Rejected { .. } | CodeCheck::Missing => Err(AuthError::MfaInvalidCode),
        }
    }

    /// Sends a fresh verification email if `email` belongs to an active,
    /// unverified account. Answers the same otherwise, and in the same
    /// time: once the address is well-formed and within its throttle, the
    /// answer is decided and the lookup, new tokens and mail run in the
    /// background ([`Auth::background_idle`] waits for them), with failures
    /// logged.
    ///
    /// Throttled per client IP (every request, well-formed or not) and per
    /// address.
    ///
    /// # Errors
    /// `RateLimited`.
    pub async fn resend(self, email: &str, meta: &RequestMeta) -> AuthResult<()> {
        self.auth.throttle_ip(RateAction::ResendPerIp, meta).await?;
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        self.auth
            .throttle(RateAction::ResendPerEmail, email.as_str())
            .await?;
        let auth = self.auth.clone();
        let meta = meta.clone();
        self.auth
            .in_background("verification resend", async move {
                match auth.inner.store.users.user_by_email(&email).await? {
                    Some(user) if user.is_active && !user.email_verified() => {
                        auth.send_verification(&user, &meta).await
                    }
                    _ => Ok(()),
                }
            })
            .await;
        Ok(())
    }
}
