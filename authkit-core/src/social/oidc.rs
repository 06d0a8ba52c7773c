//! Any OpenID Connect provider, found by discovery (feature `oauth`).

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;
use tokio::sync::RwLock;
use url::Url;
use url::form_urlencoded::byte_serialize;
use zeroize::Zeroizing;

use super::config::{ProviderKind, ProviderSettings};
use super::id_token::{IdTokenCheck, verify_id_token};
use super::transport;
use super::{AuthorizationRequest, CodeExchange, OAuthProvider, ProviderIdentity};
use crate::error::{AuthError, AuthResult};

/// How long discovery answers and keys are kept before they are fetched
/// again.
const CACHE_FOR: StdDuration = StdDuration::from_secs(3600);
/// Least time between two JWKS fetches forced by an unknown `kid`, so
/// forged tokens cannot make us hammer the provider.
const MIN_REFETCH: StdDuration = StdDuration::from_secs(10);

/// The members of the discovery document we use.
#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    email: Option<String>,
    email_verified: Option<serde_json::Value>,
}

/// An OpenID Connect provider: discovery at
/// `{issuer}/.well-known/openid-configuration` (its `issuer` must equal
/// the configured one), the authorization code flow with PKCE and a
/// nonce, the ID token verified against the issuer's JWKS (cached,
/// refetched when a new `kid` appears), and `userinfo` for the email when
/// the ID token has none.
///
/// The client authenticates at the token endpoint with
/// `client_secret_basic` unless discovery lists only
/// `client_secret_post`.
pub struct OidcProvider {
    settings: ProviderSettings,
    client: reqwest::Client,
    discovery: RwLock<Option<(Arc<Discovery>, Instant)>>,
    keys: RwLock<Option<(Arc<JwkSet>, Instant)>>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl OidcProvider {
    /// A provider with `settings`, each request limited to `timeout`.
    ///
    /// # Errors
    /// `Internal` for invalid settings (or settings of another kind).
    pub fn new(settings: ProviderSettings, timeout: chrono::Duration) -> AuthResult<Self> {
        settings.validate().map_err(AuthError::internal)?;
        if settings.kind != ProviderKind::Oidc {
            return Err(AuthError::internal_msg(
                "OidcProvider needs OpenID Connect settings",
            ));
        }
        let timeout = timeout.to_std().map_err(AuthError::internal)?;
        Ok(Self {
            settings,
            client: crate::http_client::client(timeout)?,
            discovery: RwLock::new(None),
            keys: RwLock::new(None),
        })
    }

    async fn discovery(&self) -> AuthResult<Arc<Discovery>> {
        if let Some((doc, at)) = &*self.discovery.read().await
            && at.elapsed() < CACHE_FOR
        {
            return Ok(doc.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.settings.issuer);
        let doc: Discovery = transport::json(self.client.get(url), "OIDC discovery").await?;
        if doc.issuer != self.settings.issuer {
            return Err(AuthError::OAuthProviderError(
                "OIDC discovery names another issuer".into(),
            ));
        }
        for endpoint in [
            &doc.authorization_endpoint,
            &doc.token_endpoint,
            &doc.jwks_uri,
        ] {
            if Url::parse(endpoint).is_err() {
                return Err(AuthError::OAuthProviderError(
                    "OIDC discovery has an invalid endpoint URL".into(),
                ));
            }
        }
        let doc = Arc::new(doc);
        *self.discovery.write().await = Some((doc.clone(), Instant::now()));
        Ok(doc)
    }

    /// The JWKS, from cache unless `refresh` (and the last fetch is old
    /// enough).
    async fn keys(&self, refresh: bool) -> AuthResult<Arc<JwkSet>> {
        if let Some((keys, at)) = &*self.keys.read().await {
            let fresh = at.elapsed() < CACHE_FOR;
            if fresh && (!refresh || at.elapsed() < MIN_REFETCH) {
                return Ok(keys.clone());
            }
        }
        let discovery = self.discovery().await?;
        let keys: JwkSet =
            transport::json(self.client.get(&discovery.jwks_uri), "OIDC JWKS").await?;
        let keys = Arc::new(keys);
        *self.keys.write().await = Some((keys.clone(), Instant::now()));
        Ok(keys)
    }

    async fn redeem(
        &self,
        discovery: &Discovery,
        exchange: &CodeExchange,
    ) -> AuthResult<TokenAnswer> {
        let s = &self.settings;
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", &exchange.code),
            ("redirect_uri", &s.redirect_uri),
            ("code_verifier", &exchange.code_verifier),
        ];
        let methods = &discovery.token_endpoint_auth_methods_supported;
        let basic = methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic");
        let mut request = self.client.post(&discovery.token_endpoint);
        if basic {
            // RFC 6749 2.3.1: both parts form-encoded before base64.
            let id: String = byte_serialize(s.client_id.as_bytes()).collect();
            let secret =
                Zeroizing::new(byte_serialize(s.client_secret.as_bytes()).collect::<String>());
            request = request.basic_auth(id, Some(secret.as_str()));
        } else {
            form.push(("client_id", &s.client_id));
            form.push(("client_secret", &s.client_secret));
        }
        transport::json(request.form(&form), "OIDC token endpoint").await
    }
}

#[async_trait]
impl OAuthProvider for OidcProvider {
    fn name(&self) -> &str {
        &self.settings.name
    }

    fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    async fn authorization_url(&self, request: &AuthorizationRequest) -> AuthResult<String> {
        let discovery = self.discovery().await?;
        let mut url = Url::parse(&discovery.authorization_endpoint)
            .map_err(|_| AuthError::OAuthProviderError("invalid authorization endpoint".into()))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.settings.redirect_uri)
            .append_pair("scope", &self.settings.scopes.join(" "))
            .append_pair("state", &request.state)
            .append_pair("nonce", &request.nonce)
            .append_pair("code_challenge", &request.code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    async fn exchange(&self, exchange: &CodeExchange) -> AuthResult<ProviderIdentity> {
        let discovery = self.discovery().await?;
        let answer = self.redeem(&discovery, exchange).await?;
        let id_token = answer.id_token.ok_or_else(|| {
            AuthError::OAuthProviderError("the token endpoint answered no id_token".into())
        })?;
        let check = IdTokenCheck {
            issuer: &self.settings.issuer,
            client_id: &self.settings.client_id,
            nonce: &exchange.nonce,
            now: exchange.now,
        };
        let mut identity = match verify_id_token(&id_token, &*self.keys(false).await?, &check)? {
            Some(identity) => identity,
            None => {
                verify_id_token(&id_token, &*self.keys(true).await?, &check)?.ok_or_else(|| {
                    tracing::warn!("ID token refused: unknown key id");
                    AuthError::OAuthTokenInvalid
                })?
            }
        };
        if identity.email.is_none()
            && let (Some(endpoint), Some(access)) =
                (&discovery.userinfo_endpoint, &answer.access_token)
        {
            let info: UserInfo = transport::json(
                self.client.get(endpoint).bearer_auth(access),
                "OIDC userinfo",
            )
            .await?;
            // OIDC Core 5.3.2: the answer is about the ID token's subject.
            if info.sub == identity.subject {
                identity.email = info.email;
                identity.email_verified = matches!(
                    info.email_verified,
                    Some(serde_json::Value::Bool(true))
                ) || matches!(&info.email_verified, Some(serde_json::Value::String(s)) if s == "true");
            }
        }
        Ok(identity)
    }
}
