//! Social sign-in at the service layer, with a provider of the host's own
//! (the `OAuthProvider` trait), no HTTP involved.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use authkit_core::error::AuthResult;
use authkit_core::mail::MemoryMailer;
use authkit_core::social::{
    AuthorizationRequest, CodeExchange, OAuthConfig, OAuthProvider, ProviderIdentity,
    ProviderSettings, code_challenge,
};
use authkit_core::store::{MemoryStore, Store};
use authkit_core::{
    Auth, AuthConfig, AuthError, LoginOutcome, OAuthCallback, OAuthResult, Principal, RequestMeta,
};

/// Signs everyone in as `person`, and remembers the PKCE challenge it
/// was asked for so the exchange can check the verifier.
#[derive(Debug)]
struct StaticProvider {
    name: &'static str,
    person: ProviderIdentity,
    challenge: Mutex<Option<String>>,
}

#[async_trait]
impl OAuthProvider for StaticProvider {
    fn name(&self) -> &str {
        self.name
    }

    fn issuer(&self) -> &str {
        "https://static.example"
    }

    async fn authorization_url(&self, request: &AuthorizationRequest) -> AuthResult<String> {
        *self.challenge.lock().unwrap() = Some(request.code_challenge.clone());
        Ok(format!(
            "https://static.example/authorize?state={}",
            request.state
        ))
    }

    async fn exchange(&self, exchange: &CodeExchange) -> AuthResult<ProviderIdentity> {
        let expected = self.challenge.lock().unwrap().clone();
        if expected != Some(code_challenge(&exchange.code_verifier)) {
            return Err(AuthError::OAuthProviderError("PKCE mismatch".into()));
        }
        Ok(self.person.clone())
    }
}

fn person(subject: &str, email: &str) -> ProviderIdentity {
    ProviderIdentity {
        subject: subject.into(),
        email: Some(email.into()),
        email_verified: true,
        name: Some("  Grace   Hopper ".into()),
        picture: Some("javascript:alert(1)".into()),
    }
}

fn provider(name: &'static str, subject: &str, email: &str) -> Arc<StaticProvider> {
    Arc::new(StaticProvider {
        name,
        person: person(subject, email),
        challenge: Mutex::new(None),
    })
}

async fn auth(providers: Vec<Arc<StaticProvider>>) -> AuthResult<Auth> {
    let mut builder = Auth::builder(AuthConfig::default(), Store::new(MemoryStore::new()))
        .mailer(Arc::new(MemoryMailer::default()));
    for p in providers {
        builder = builder.oauth_provider(p);
    }
    builder.build().await
}

/// Runs start and callback; answers the outcome.
async fn round_trip(
    auth: &Auth,
    provider: &str,
    link: Option<&Principal>,
) -> AuthResult<OAuthResult> {
    let meta = RequestMeta::default();
    let start = auth.social().start(provider, None, link, &meta).await?;
    let state = start.authorization_url.split("state=").nth(1).unwrap();
    let callback = OAuthCallback {
        code: Some("code-1".into()),
        state: Some(state.into()),
        browser_binding: Some(start.browser_binding.clone()),
        ..OAuthCallback::default()
    };
    Ok(auth
        .social()
        .callback(provider, callback, &meta)
        .await?
        .result)
}

#[tokio::test]
async fn a_custom_provider_signs_in_and_links() {
    let auth = auth(vec![
        provider("acme", "a-1", "grace@example.com"),
        provider("other", "o-1", "grace@example.com"),
    ])
    .await
    .unwrap();
    let OAuthResult::SignedIn(LoginOutcome::Tokens(pair)) =
        round_trip(&auth, "acme", None).await.unwrap()
    else {
        panic!("tokens expected")
    };
    let principal = auth.authenticate(&pair.access_token).unwrap();
    let me = auth.me(&principal).await.unwrap();
    assert_eq!(
        me.profile.display_name.as_deref(),
        Some("Grace   Hopper"),
        "trimmed"
    );
    assert_eq!(me.profile.avatar_url, None, "a non-http picture is dropped");
    assert!(me.profile.email_verified);

    // The owner links a second provider with the same subject space.
    let OAuthResult::Linked(identity) = round_trip(&auth, "other", Some(&principal)).await.unwrap()
    else {
        panic!("a link expected")
    };
    assert_eq!(identity.user_id, principal.user_id);
    let list = auth.social().identities(&principal).await.unwrap();
    assert_eq!(list.identities.len(), 2);
    assert!(!list.has_password);
    let meta = RequestMeta::default();
    // A social-only account has no password to confirm.
    auth.social()
        .unlink(&principal, "other", None, &meta)
        .await
        .unwrap();
    assert!(matches!(
        auth.social().unlink(&principal, "acme", None, &meta).await,
        Err(AuthError::LastSignInMethod)
    ));
    assert!(matches!(
        auth.social().start("missing", None, None, &meta).await,
        Err(AuthError::NotFound)
    ));
}

#[tokio::test]
async fn the_callback_needs_the_binding_of_its_own_start() {
    let auth = auth(vec![provider("acme", "a-2", "x@example.com")])
        .await
        .unwrap();
    let meta = RequestMeta::default();
    let start = auth
        .social()
        .start("acme", None, None, &meta)
        .await
        .unwrap();
    let state = start.authorization_url.split("state=").nth(1).unwrap();
    for binding in [None, Some("forged".to_owned())] {
        let callback = OAuthCallback {
            code: Some("c".into()),
            state: Some(state.into()),
            browser_binding: binding,
            ..OAuthCallback::default()
        };
        assert!(matches!(
            auth.social().callback("acme", callback, &meta).await,
            Err(AuthError::OAuthStateInvalid)
        ));
    }
    assert!(
        format!("{start:?}").find(&start.browser_binding).is_none(),
        "Debug hides the binding"
    );
}

#[tokio::test]
async fn providers_are_checked_when_the_service_is_built() {
    let twice = auth(vec![
        provider("acme", "a", "a@example.com"),
        provider("acme", "b", "b@example.com"),
    ])
    .await;
    assert!(matches!(twice, Err(AuthError::Internal(_))));
    let bad_name = auth(vec![provider("Acme!", "a", "a@example.com")]).await;
    assert!(matches!(bad_name, Err(AuthError::Internal(_))));
    // A configured built-in provider clashing with a custom one.
    let config = OAuthConfig {
        providers: vec![ProviderSettings::github(
            "id",
            "secret",
            "https://api.example.com/auth/oauth/github/callback",
        )],
        ..OAuthConfig::default()
    };
    let clash = Auth::builder(AuthConfig::default(), Store::new(MemoryStore::new()))
        .oauth(config)
        .oauth_provider(provider("github", "g", "g@example.com"))
        .build()
        .await;
    assert!(matches!(clash, Err(AuthError::Internal(_))));
}
