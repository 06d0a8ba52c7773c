//! [`OAuthConfig`]: which providers are on, with which credentials and
//! endpoints, read from `AUTHKIT_*` variables or built by hand.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use chrono::Duration;
use zeroize::Zeroizing;

use crate::config::ConfigError;

/// Google's OpenID Connect issuer.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// GitHub's web origin (authorization and token endpoints).
pub const GITHUB_ORIGIN: &str = "https://github.com";
/// GitHub's REST API.
pub const GITHUB_API: &str = "https://api.github.com";

/// The protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenID Connect: discovery, ID token verified against the JWKS
    /// (Google, Keycloak, Auth0, Okta, Microsoft...).
    Oidc,
    /// GitHub: OAuth 2.0, then `/user` and `/user/emails`.
    GitHub,
}

/// One provider's settings.
#[derive(Clone)]
pub struct ProviderSettings {
    /// Route name (`google`, `github`, `keycloak`): `/oauth/{name}/start`.
    pub name: String,
    /// Protocol.
    pub kind: ProviderKind,
    /// OAuth client id (also the ID token's expected `aud`).
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: Zeroizing<String>,
    /// The exact redirect URI registered with the provider: this
    /// service's `.../oauth/{name}/callback`.
    pub redirect_uri: String,
    /// Scopes asked for.
    pub scopes: Vec<String>,
    /// OpenID Connect issuer (discovery at
    /// `{issuer}/.well-known/openid-configuration`); for GitHub its web
    /// origin, which serves `/login/oauth/authorize` and
    /// `/login/oauth/access_token`.
    pub issuer: String,
    /// GitHub's API base (`https://api.github.com`); unused by OpenID
    /// Connect providers.
    pub api_url: String,
}

impl fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_uri", &self.redirect_uri)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl ProviderSettings {
    /// Google (OpenID Connect, issuer `https://accounts.google.com`,
    /// scopes `openid email profile`).
    pub fn google(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self::oidc(
            "google",
            GOOGLE_ISSUER,
            client_id,
            client_secret,
            redirect_uri,
        )
    }

    /// GitHub (scopes `read:user user:email`).
    pub fn github(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            name: "github".into(),
            kind: ProviderKind::GitHub,
            client_id: client_id.into(),
            client_secret: Zeroizing::new(client_secret.into()),
            redirect_uri: redirect_uri.into(),
            scopes: vec!["read:user".into(), "user:email".into()],
            issuer: GITHUB_ORIGIN.into(),
            api_url: GITHUB_API.into(),
        }
    }

    /// Any OpenID Connect issuer under route name `name` (scopes
    /// `openid email profile`).
    pub fn oidc(
        name: impl Into<String>,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            kind: ProviderKind::Oidc,
            client_id: client_id.into(),
            client_secret: Zeroizing::new(client_secret.into()),
            redirect_uri: redirect_uri.into(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            issuer: issuer.into(),
            api_url: String::new(),
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// Names the variable at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let var = |suffix: &str| format!("{}_{suffix}", self.env_prefix());
        if !super::valid_provider_name(&self.name) {
            return Err(error(
                &var("ISSUER"),
                "the provider name must be lowercase letters, digits, - or _",
            ));
        }
        if self.client_id.trim().is_empty() {
            return Err(error(&var("CLIENT_ID"), "must be set"));
        }
        if self.client_secret.trim().is_empty() {
            return Err(error(&var("CLIENT_SECRET"), "must be set"));
        }
        if !http_url(&self.redirect_uri) || self.redirect_uri.contains('#') {
            return Err(error(
                &var("REDIRECT_URI"),
                "expected an absolute http(s) URL without a fragment",
            ));
        }
        let issuer_var = match self.kind {
            ProviderKind::GitHub => var("AUTHORIZE_URL"),
            ProviderKind::Oidc => var("ISSUER"),
        };
        if !http_url(&self.issuer) || self.issuer.ends_with('/') {
            return Err(error(
                &issuer_var,
                "expected an absolute http(s) URL without a trailing slash",
            ));
        }
        if self.kind == ProviderKind::GitHub
            && (!http_url(&self.api_url) || self.api_url.ends_with('/'))
        {
            return Err(error(
                &var("API_URL"),
                "expected an absolute http(s) URL without a trailing slash",
            ));
        }
        if self.scopes.iter().any(|s| s.is_empty() || s.contains(' ')) {
            return Err(error(&var("SCOPES"), "scopes must be single words"));
        }
        Ok(())
    }

    /// `AUTHKIT_GOOGLE`, `AUTHKIT_GITHUB` or `AUTHKIT_OIDC_<NAME>`.
    fn env_prefix(&self) -> String {
        match (self.kind, self.name.as_str()) {
            (ProviderKind::Oidc, "google") => "AUTHKIT_GOOGLE".to_owned(),
            (ProviderKind::GitHub, _) => "AUTHKIT_GITHUB".to_owned(),
            (ProviderKind::Oidc, name) => {
                format!(
                    "AUTHKIT_OIDC_{}",
                    name.to_ascii_uppercase().replace('-', "_")
                )
            }
        }
    }
}

/// Social-login settings: the providers and the flow's limits.
///
/// | Variable | Meaning |
/// | --- | --- |
/// | `AUTHKIT_GOOGLE_CLIENT_ID`, `AUTHKIT_GOOGLE_CLIENT_SECRET` | turn Google on |
/// | `AUTHKIT_GOOGLE_ISSUER` | override the issuer (tests, a proxy) |
/// | `AUTHKIT_GITHUB_CLIENT_ID`, `AUTHKIT_GITHUB_CLIENT_SECRET` | turn GitHub on |
/// | `AUTHKIT_GITHUB_AUTHORIZE_URL`, `AUTHKIT_GITHUB_API_URL` | override `https://github.com` and `https://api.github.com` (GitHub Enterprise, tests) |
/// | `AUTHKIT_OIDC_<NAME>_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET` | any OpenID Connect provider, served as `/oauth/<name>/...` (lowercased, `_` kept) |
/// | `AUTHKIT_<PROVIDER>_REDIRECT_URI` | the exact callback URI registered with the provider; default `{AUTHKIT_PUBLIC_URL}{AUTHKIT_MOUNT_PATH}/oauth/{name}/callback` |
/// | `AUTHKIT_<PROVIDER>_SCOPES` | comma-separated scopes instead of the defaults |
/// | `AUTHKIT_OAUTH_REDIRECT_ORIGINS` | origins `redirect_to` may point at besides `AUTHKIT_PUBLIC_URL` (comma-separated) |
/// | `AUTHKIT_OAUTH_STATE_TTL` | how long a started sign-in stays valid (default `10m`, at most `30m`) |
/// | `AUTHKIT_OAUTH_HTTP_TIMEOUT` | timeout of each request to a provider (default `10s`, at most `60s`) |
///
/// `<PROVIDER>` is `GOOGLE`, `GITHUB` or `OIDC_<NAME>`.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The providers, in the order they were configured.
    pub providers: Vec<ProviderSettings>,
    /// Origins (`https://app.example.com`) that `redirect_to` may point at,
    /// besides the public URL's.
    pub redirect_origins: Vec<String>,
    /// How long a started sign-in (its `state`) stays valid.
    pub state_ttl: Duration,
    /// Timeout of each request to a provider.
    pub http_timeout: Duration,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            providers: Vec::new(),
            redirect_origins: Vec::new(),
            state_ttl: Duration::minutes(10),
            http_timeout: Duration::seconds(10),
        }
    }
}

impl OAuthConfig {
    /// Reads the variables of the table above from the process
    /// environment.
    ///
    /// # Errors
    /// The first missing or unusable variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Like [`from_env`](Self::from_env), from explicit pairs.
    ///
    /// # Errors
    /// The first missing or unusable variable.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, v)| k.starts_with("AUTHKIT_") && !v.trim().is_empty())
            .map(|(k, v)| (k, v.trim().to_owned()))
            .collect();
        let get = |var: &str| vars.get(var).cloned();
        let public_url =
            get("AUTHKIT_PUBLIC_URL").unwrap_or_else(|| "http://localhost:3000".into());
        let mount = get("AUTHKIT_MOUNT_PATH").unwrap_or_else(|| "/auth".into());
        let callback = |name: &str| {
            format!(
                "{}{}/oauth/{name}/callback",
                public_url.trim_end_matches('/'),
                mount
            )
        };
        let mut c = Self::default();

        // Each provider is on when its client id is set.
        let configure = |prefix: &str, mut settings: ProviderSettings| {
            if let Some(uri) = get(&format!("{prefix}_REDIRECT_URI")) {
                settings.redirect_uri = uri;
            }
            if let Some(scopes) = get(&format!("{prefix}_SCOPES")) {
                settings.scopes = scopes
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            settings
        };
        let secret = |prefix: &str| get(&format!("{prefix}_CLIENT_SECRET")).unwrap_or_default();

        if let Some(id) = get("AUTHKIT_GOOGLE_CLIENT_ID") {
            let mut google =
                ProviderSettings::google(id, secret("AUTHKIT_GOOGLE"), callback("google"));
            if let Some(issuer) = get("AUTHKIT_GOOGLE_ISSUER") {
                google.issuer = issuer;
            }
            c.providers.push(configure("AUTHKIT_GOOGLE", google));
        }
        if let Some(id) = get("AUTHKIT_GITHUB_CLIENT_ID") {
            let mut github =
                ProviderSettings::github(id, secret("AUTHKIT_GITHUB"), callback("github"));
            if let Some(origin) = get("AUTHKIT_GITHUB_AUTHORIZE_URL") {
                github.issuer = origin;
            }
            if let Some(api) = get("AUTHKIT_GITHUB_API_URL") {
                github.api_url = api;
            }
            c.providers.push(configure("AUTHKIT_GITHUB", github));
        }
        let oidc_names: BTreeSet<String> = vars
            .keys()
            .filter_map(|k| k.strip_prefix("AUTHKIT_OIDC_"))
            .filter_map(|rest| {
                ["_ISSUER", "_CLIENT_ID", "_CLIENT_SECRET"]
                    .iter()
                    .find_map(|suffix| rest.strip_suffix(suffix))
            })
            .map(str::to_owned)
            .collect();
        for upper in oidc_names {
            let prefix = format!("AUTHKIT_OIDC_{upper}");
            let name = upper.to_ascii_lowercase();
            let required = |suffix: &str| {
                let var = format!("{prefix}_{suffix}");
                get(&var).ok_or_else(|| error(&var, "must be set"))
            };
            let settings = ProviderSettings::oidc(
                name.clone(),
                required("ISSUER")?,
                required("CLIENT_ID")?,
                required("CLIENT_SECRET")?,
                callback(&name),
            );
            c.providers.push(configure(&prefix, settings));
        }
        if let Some(origins) = get("AUTHKIT_OAUTH_REDIRECT_ORIGINS") {
            c.redirect_origins = origins
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect();
        }
        for (var, out) in [
            ("AUTHKIT_OAUTH_STATE_TTL", &mut c.state_ttl),
            ("AUTHKIT_OAUTH_HTTP_TIMEOUT", &mut c.http_timeout),
        ] {
            if let Some(raw) = get(var) {
                *out = crate::config::parse_duration(&raw)
                    .ok_or_else(|| error(var, "expected a duration such as 30s, 10m"))?;
            }
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks every provider and the limits.
    ///
    /// # Errors
    /// Names the variable at fault; two providers with one name are
    /// refused.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut names = BTreeSet::new();
        for provider in &self.providers {
            provider.validate()?;
            if !names.insert(provider.name.as_str()) {
                return Err(error(
                    &format!("{}_CLIENT_ID", provider.env_prefix()),
                    format!("provider `{}` is configured twice", provider.name),
                ));
            }
        }
        if let Some(bad) = self.redirect_origins.iter().find(|o| !http_url(o)) {
            return Err(error(
                "AUTHKIT_OAUTH_REDIRECT_ORIGINS",
                format!("`{bad}` is not an origin such as https://app.example.com"),
            ));
        }
        if self.state_ttl <= Duration::zero() || self.state_ttl > Duration::minutes(30) {
            return Err(error(
                "AUTHKIT_OAUTH_STATE_TTL",
                "must be greater than zero and at most 30m",
            ));
        }
        if self.http_timeout <= Duration::zero() || self.http_timeout > Duration::seconds(60) {
            return Err(error(
                "AUTHKIT_OAUTH_HTTP_TIMEOUT",
                "must be greater than zero and at most 60s",
            ));
        }
        Ok(())
    }
}

fn http_url(raw: &str) -> bool {
    url::Url::parse(raw).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        && (raw.starts_with("https://") || raw.starts_with("http://"))
}

fn error(variable: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: variable.to_owned(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn providers_come_from_their_variables() {
        let c = OAuthConfig::from_vars([
            ("AUTHKIT_PUBLIC_URL", "https://api.example.com"),
            ("AUTHKIT_GOOGLE_CLIENT_ID", "g-id"),
            ("AUTHKIT_GOOGLE_CLIENT_SECRET", "g-secret"),
            ("AUTHKIT_GITHUB_CLIENT_ID", "gh-id"),
            ("AUTHKIT_GITHUB_CLIENT_SECRET", "gh-secret"),
            ("AUTHKIT_GITHUB_API_URL", "http://127.0.0.1:9"),
            (
                "AUTHKIT_OIDC_CORP_SSO_ISSUER",
                "https://sso.example.com/realms/x",
            ),
            ("AUTHKIT_OIDC_CORP_SSO_CLIENT_ID", "corp"),
            ("AUTHKIT_OIDC_CORP_SSO_CLIENT_SECRET", "corp-secret"),
            ("AUTHKIT_OIDC_CORP_SSO_SCOPES", "openid, email"),
            (
                "AUTHKIT_OIDC_CORP_SSO_REDIRECT_URI",
                "https://app.example.com/cb",
            ),
            ("AUTHKIT_OAUTH_REDIRECT_ORIGINS", "https://app.example.com"),
            ("AUTHKIT_OAUTH_STATE_TTL", "5m"),
        ])
        .unwrap();
        let names: Vec<_> = c.providers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["google", "github", "corp_sso"]);
        let google = &c.providers[0];
        assert_eq!(google.issuer, GOOGLE_ISSUER);
        assert_eq!(
            google.redirect_uri,
            "https://api.example.com/auth/oauth/google/callback"
        );
        assert!(!format!("{google:?}").contains("g-secret"));
        assert_eq!(c.providers[1].api_url, "http://127.0.0.1:9");
        assert_eq!(c.providers[1].issuer, GITHUB_ORIGIN);
        let corp = &c.providers[2];
        assert_eq!(corp.kind, ProviderKind::Oidc);
        assert_eq!(corp.scopes, ["openid", "email"]);
        assert_eq!(corp.redirect_uri, "https://app.example.com/cb");
        assert_eq!(c.state_ttl, Duration::minutes(5));
        assert_eq!(c.redirect_origins, ["https://app.example.com"]);
        assert!(
            OAuthConfig::from_vars(Vec::<(String, String)>::new())
                .unwrap()
                .providers
                .is_empty()
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("AUTHKIT_GOOGLE_CLIENT_ID", "x")],
                "AUTHKIT_GOOGLE_CLIENT_SECRET",
            ),
            (
                &[
                    ("AUTHKIT_GITHUB_CLIENT_ID", "x"),
                    ("AUTHKIT_GITHUB_CLIENT_SECRET", "y"),
                    ("AUTHKIT_GITHUB_API_URL", "api.github.com"),
                ],
                "AUTHKIT_GITHUB_API_URL",
            ),
            (
                &[("AUTHKIT_OIDC_OKTA_CLIENT_ID", "x")],
                "AUTHKIT_OIDC_OKTA_ISSUER",
            ),
            (
                &[
                    ("AUTHKIT_OIDC_OKTA_ISSUER", "okta.example.com"),
                    ("AUTHKIT_OIDC_OKTA_CLIENT_ID", "x"),
                    ("AUTHKIT_OIDC_OKTA_CLIENT_SECRET", "y"),
                ],
                "AUTHKIT_OIDC_OKTA_ISSUER",
            ),
            (
                &[
                    ("AUTHKIT_GOOGLE_CLIENT_ID", "x"),
                    ("AUTHKIT_GOOGLE_CLIENT_SECRET", "y"),
                    ("AUTHKIT_GOOGLE_REDIRECT_URI", "/callback"),
                ],
                "AUTHKIT_GOOGLE_REDIRECT_URI",
            ),
            (
                &[("AUTHKIT_OAUTH_STATE_TTL", "2h")],
                "AUTHKIT_OAUTH_STATE_TTL",
            ),
            (
                &[("AUTHKIT_OAUTH_HTTP_TIMEOUT", "soon")],
                "AUTHKIT_OAUTH_HTTP_TIMEOUT",
            ),
            (
                &[("AUTHKIT_OAUTH_REDIRECT_ORIGINS", "javascript:x")],
                "AUTHKIT_OAUTH_REDIRECT_ORIGINS",
            ),
        ];
        for (vars, variable) in cases {
            let err = OAuthConfig::from_vars(vars.iter().copied()).unwrap_err();
            assert_eq!(err.variable, *variable, "{vars:?}");
        }
    }
}
