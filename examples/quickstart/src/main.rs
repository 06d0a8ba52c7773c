//! A tour of the authkit core API with no HTTP and no database: register,
//! verify the email, log in, call an authenticated operation, refresh,
//! detect refresh-token reuse, reset the password.
//!
//! Run with `cargo run -p quickstart`.

use std::error::Error;
use std::sync::Arc;

use authkit_core::mail::MemoryMailer;
use authkit_core::store::{MemoryStore, Store};
use authkit_core::{
    Auth, AuthConfig, AuthError, Credentials, LoginOutcome, Registration, RequestMeta,
};

/// Prints a step of the tour.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // Secure defaults; AuthConfig::from_env() reads AUTHKIT_* instead.
    let config = AuthConfig::builder()
        .app_name("Quickstart")
        .public_url("https://app.example.com")
        .build()?;
    let mailer = Arc::new(MemoryMailer::default());
    let auth = Auth::builder(config, Store::new(MemoryStore::new()))
        .mailer(mailer.clone())
        .build()
        .await?;
    let meta = RequestMeta::new(Some("198.51.100.4".into()), Some("quickstart/1.0".into()));
    let email = "ada@example.com";
    let password = "correct horse battery staple";

    let registered = auth
        .register(Registration::new(email, password), &meta)
        .await?;
    say!(
        "registered {} (verification sent: {})",
        registered.user.id,
        registered.verification_sent
    );

    match auth.login(Credentials::new(email, password), &meta).await {
        Err(AuthError::EmailNotVerified) => say!("login before verifying: email_not_verified"),
        other => return Err(format!("unexpected: {other:?}").into()),
    }

    let token = link_token(&mailer, email)?;
    auth.email().verify(&token, &meta).await?;
    say!("email verified through the emailed link");

    let LoginOutcome::Tokens(pair) = auth.login(Credentials::new(email, password), &meta).await?
    else {
        return Err("multi-factor login is not configured here".into());
    };
    say!(
        "logged in: session {}, access token valid {} s",
        pair.session_id,
        pair.expires_in
    );

    let principal = auth.authenticate(&pair.access_token)?;
    let me = auth.me(&principal).await?;
    say!(
        "me: {} roles={:?}",
        me.profile.email,
        me.roles.iter().map(|r| &r.name).collect::<Vec<_>>()
    );

    let rotated = auth.refresh(&pair.refresh_token, &meta).await?;
    say!("refreshed: new refresh token issued, old one invalidated");
    match auth.refresh(&pair.refresh_token, &meta).await {
        Err(AuthError::RefreshTokenReused) => {
            say!("replaying the old refresh token: session revoked")
        }
        other => return Err(format!("unexpected: {other:?}").into()),
    }
    match auth.refresh(&rotated.refresh_token, &meta).await {
        Err(AuthError::TokenInvalid) => say!("the stolen family is dead: token_invalid"),
        other => return Err(format!("unexpected: {other:?}").into()),
    }

    auth.passwords().request_reset(email, &meta).await?;
    // The link is mailed after the answer, in the background.
    auth.background_idle().await;
    let reset = link_token(&mailer, email)?;
    auth.passwords()
        .confirm_reset(&reset, "a new passphrase for ada", &meta)
        .await?;
    say!("password reset through the emailed link; every session revoked");
    auth.login(Credentials::new(email, "a new passphrase for ada"), &meta)
        .await?;
    say!("logged in with the new password");
    Ok(())
}

/// The `token` parameter of the link in the newest mail to `to`.
fn link_token(mailer: &MemoryMailer, to: &str) -> Result<String, Box<dyn Error>> {
    let mail = mailer.last_to(to).ok_or("no mail sent")?;
    let start = mail.text.find("?token=").ok_or("no link in mail")? + "?token=".len();
    Ok(mail.text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect())
}
