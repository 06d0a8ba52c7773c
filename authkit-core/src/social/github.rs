//! GitHub sign-in (feature `oauth`): OAuth 2.0 with PKCE, then the REST
//! API for the profile and the primary verified email.

use async_trait::async_trait;
use serde::Deserialize;
use url::Url;

use super::config::{ProviderKind, ProviderSettings};
use super::transport;
use super::{AuthorizationRequest, CodeExchange, OAuthProvider, ProviderIdentity};
use crate::error::{AuthError, AuthResult};

/// GitHub refuses API calls without a `User-Agent`.
const USER_AGENT: &str = "authkit";

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    /// GitHub reports a bad code with HTTP 200 and an `error` member.
    error: Option<String>,
}

#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
    login: String,
    name: Option<String>,
    avatar_url: Option<String>,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

/// GitHub: `{issuer}/login/oauth/authorize` and
/// `{issuer}/login/oauth/access_token` (issuer `https://github.com`, or a
/// GitHub Enterprise origin), then `{api}/user` for the numeric id (the
/// subject), name and avatar, and `{api}/user/emails` for the email: the
/// primary address, verified only when GitHub says so.
pub struct GitHubProvider {
    settings: ProviderSettings,
    client: reqwest::Client,
}

impl std::fmt::Debug for GitHubProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubProvider")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl GitHubProvider {
    /// A provider with `settings`, each request limited to `timeout`.
    ///
    /// # Errors
    /// `Internal` for invalid settings (or settings of another kind).
    pub fn new(settings: ProviderSettings, timeout: chrono::Duration) -> AuthResult<Self> {
        settings.validate().map_err(AuthError::internal)?;
        if settings.kind != ProviderKind::GitHub {
            return Err(AuthError::internal_msg(
                "GitHubProvider needs GitHub settings",
            ));
        }
        let timeout = timeout.to_std().map_err(AuthError::internal)?;
        Ok(Self {
            settings,
            client: crate::http_client::client(timeout)?,
        })
    }

    fn api(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.settings.api_url))
            .bearer_auth(token)
            .header(reqwest::header::USER_AGENT, USER_AGENT)
            .header("X-GitHub-Api-Version", "2022-11-28")
    }
}

/// The primary address, verified or not; `None` without one.
fn primary_email(emails: &[GitHubEmail]) -> Option<(String, bool)> {
    emails
        .iter()
        .find(|e| e.primary)
        .map(|e| (e.email.clone(), e.verified))
}

#[async_trait]
impl OAuthProvider for GitHubProvider {
    fn name(&self) -> &str {
        &self.settings.name
    }

    fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    async fn authorization_url(&self, request: &AuthorizationRequest) -> AuthResult<String> {
        let mut url = Url::parse(&format!("{}/login/oauth/authorize", self.settings.issuer))
            .map_err(AuthError::internal)?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.settings.redirect_uri)
            .append_pair("scope", &self.settings.scopes.join(" "))
            .append_pair("state", &request.state)
            .append_pair("code_challenge", &request.code_challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("allow_signup", "true");
        Ok(url.into())
    }

    async fn exchange(&self, exchange: &CodeExchange) -> AuthResult<ProviderIdentity> {
        let s = &self.settings;
        let form = [
            ("client_id", s.client_id.as_str()),
            ("client_secret", s.client_secret.as_str()),
            ("code", exchange.code.as_str()),
            ("redirect_uri", s.redirect_uri.as_str()),
            ("code_verifier", exchange.code_verifier.as_str()),
        ];
        let answer: TokenAnswer = transport::json(
            self.client
                .post(format!("{}/login/oauth/access_token", s.issuer))
                .form(&form),
            "GitHub token endpoint",
        )
        .await?;
        let token = match (answer.access_token, answer.error) {
            (Some(token), None) if !token.is_empty() => token,
            (_, error) => {
                return Err(AuthError::OAuthProviderError(format!(
                    "GitHub token endpoint refused the code ({})",
                    transport::oauth_error_code(error.as_deref().unwrap_or("no token"))
                )));
            }
        };
        let user: GitHubUser = transport::json(self.api("/user", &token), "GitHub /user").await?;
        let emails: Vec<GitHubEmail> =
            transport::json(self.api("/user/emails", &token), "GitHub /user/emails").await?;
        let (email, email_verified) = match primary_email(&emails) {
            Some((email, verified)) => (Some(email), verified),
            None => (None, false),
        };
        Ok(ProviderIdentity {
            subject: user.id.to_string(),
            email,
            email_verified,
            name: user.name.or(Some(user.login)),
            picture: user.avatar_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(address: &str, primary: bool, verified: bool) -> GitHubEmail {
        GitHubEmail {
            email: address.into(),
            primary,
            verified,
        }
    }

    #[test]
    fn the_primary_address_is_chosen_with_its_own_verification() {
        let emails = [
            email("other@example.com", false, true),
            email("main@example.com", true, true),
        ];
        assert_eq!(
            primary_email(&emails),
            Some(("main@example.com".into(), true))
        );
        let emails = [
            email("verified@example.com", false, true),
            email("main@example.com", true, false),
        ];
        assert_eq!(
            primary_email(&emails),
            Some(("main@example.com".into(), false)),
            "a verified secondary does not vouch for the primary"
        );
        assert_eq!(primary_email(&[email("x@example.com", false, true)]), None);
        assert_eq!(primary_email(&[]), None);
    }
}
