//! Bringing accounts over from another system (a Django user table) with
//! the password hashes they already have, so nobody must reset.

use super::Admin;
use crate::audit::{AuthEvent, RequestMeta};
use crate::email::Email;
use crate::error::AuthResult;
use crate::user::User;

/// An account to import, see [`Admin::import_user`](crate::admin::Admin::import_user).
#[derive(Clone)]
#[non_exhaustive]
pub struct ImportedUser {
    /// Email address; normalized like any other.
    pub email: String,
    /// The stored hash as the other system wrote it: an argon2 PHC string
    /// or a Django `pbkdf2_sha256$`, `argon2$`, `bcrypt$` or
    /// `bcrypt_sha256$` hash.
    pub password_hash: String,
    /// Whether the other system had verified the address.
    pub email_verified: bool,
    /// Display name.
    pub display_name: Option<String>,
}

impl ImportedUser {
    /// An account with this email and stored hash, address not verified.
    pub fn new(email: impl Into<String>, password_hash: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            password_hash: password_hash.into(),
            email_verified: false,
            display_name: None,
        }
    }
}

impl std::fmt::Debug for ImportedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedUser")
            .field("email", &self.email)
            .field("password_hash", &"<redacted>")
            .field("email_verified", &self.email_verified)
            .finish_non_exhaustive()
    }
}

impl Admin<'_> {
    /// Creates an account with a password hash from another system, for
    /// migration jobs (no request, no permission check). The hash is
    /// checked first ([`PasswordHasher::check_imported`]): a format login
    /// cannot verify, or a `pbkdf2_sha256` hash below 10,000 iterations, is
    /// refused rather than stored. The user logs in with their old password
    /// and the hash is replaced by argon2id on that first login. Audited as
    /// `user_imported`.
    ///
    /// [`PasswordHasher::check_imported`]: crate::password::PasswordHasher::check_imported
    ///
    /// # Errors
    /// `Validation` (`email_invalid`; `password_hash_invalid` or
    /// `password_hash_too_weak` on `password_hash`; display name);
    /// `EmailTaken`.
    pub async fn import_user(self, input: ImportedUser) -> AuthResult<User> {
        let email = Email::parse(&input.email)?;
        self.auth
            .inner
            .hasher
            .check_imported(&input.password_hash)?;
        let display_name = match input.display_name.as_deref() {
            Some(name) => crate::account::clean_display_name(name)?,
            None => None,
        };
        let now = self.auth.now();
        let mut user = User::new(email, now);
        user.password_hash = Some(input.password_hash);
        user.email_verified_at = input.email_verified.then_some(now);
        user.display_name = display_name;
        self.auth.inner.store.users.create_user(&user).await?;
        self.auth
            .emit(
                AuthEvent::UserImported { user_id: user.id },
                &RequestMeta::default(),
            )
            .await?;
        Ok(user)
    }
}
