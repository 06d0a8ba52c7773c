//! [`ApiConfig`]: how the HTTP layer behaves (mount path, body limit,
//! cookie mode, CSRF allow-list, trusted proxies), read from `AUTHKIT_*`
//! variables like [`AuthConfig`](crate::AuthConfig).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use super::client_ip::{ProxyHeader, TrustedProxies};
use crate::config::{ConfigError, flag};
use crate::secret::ct_eq;

/// Default request body limit: 64 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// Largest body limit accepted from configuration: 16 MiB.
pub const MAX_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The `SameSite` attribute of the session cookies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on top-level navigations from other sites (the default).
    #[default]
    Lax,
    /// Never sent from other sites.
    Strict,
    /// Always sent (cross-site front ends); still `Secure`.
    None,
}

impl SameSite {
    /// The attribute value as written in `Set-Cookie`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lax => "Lax",
            Self::Strict => "Strict",
            Self::None => "None",
        }
    }
}

impl FromStr for SameSite {
    type Err = ();

    fn from_str(raw: &str) -> Result<Self, ()> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "lax" => Ok(Self::Lax),
            "strict" => Ok(Self::Strict),
            "none" => Ok(Self::None),
            _ => Err(()),
        }
    }
}

impl fmt::Display for SameSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Shortest introspection client secret accepted: 32 characters.
pub const MIN_CLIENT_SECRET: usize = 32;

/// The client id and secret a resource server presents with HTTP Basic
/// (RFC 6749 section 2.3.1) to `POST /token/introspect`. The secret is
/// compared in constant time and never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct IntrospectionClient {
    id: String,
    secret: String,
}

impl IntrospectionClient {
    /// A client `id` with its `secret` (checked by
    /// [`ApiConfig::validate`]: an id of printable ASCII without `:`, a
    /// secret of at least [`MIN_CLIENT_SECRET`] characters).
    pub fn new(id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            secret: secret.into(),
        }
    }

    /// The client id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether `id` and `secret` are this client's (constant time in the
    /// secret).
    pub fn matches(&self, id: &str, secret: &str) -> bool {
        let secret_ok = ct_eq(self.secret.as_bytes(), secret.as_bytes());
        secret_ok && self.id == id
    }
}

impl fmt::Debug for IntrospectionClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionClient")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Settings of the HTTP layer. Start from [`ApiConfig::default`] and set
/// fields, or read them with [`ApiConfig::from_env`].
///
/// | Variable | Default | Field |
/// | --- | --- | --- |
/// | `AUTHKIT_MOUNT_PATH` | `/auth` | [`mount_path`](Self::mount_path) |
/// | `AUTHKIT_BODY_LIMIT` | `65536` | [`body_limit`](Self::body_limit) (bytes) |
/// | `AUTHKIT_COOKIE_MODE` | `false` | [`cookie_mode`](Self::cookie_mode) |
/// | `AUTHKIT_COOKIE_SAMESITE` | `lax` | [`same_site`](Self::same_site) (`lax`, `strict`, `none`) |
/// | `AUTHKIT_COOKIE_ACCESS_TOKEN_IN_BODY` | `false` | [`cookie_access_token_in_body`](Self::cookie_access_token_in_body) |
/// | `AUTHKIT_CSRF_ORIGINS` | empty | [`csrf_allowed_origins`](Self::csrf_allowed_origins), comma-separated |
/// | `AUTHKIT_TRUSTED_PROXIES` | empty | [`trusted_proxies`](Self::trusted_proxies), comma-separated IPs / CIDRs |
/// | `AUTHKIT_PROXY_HEADER` | `x-forwarded-for` | [`proxy_header`](Self::proxy_header) (`x-forwarded-for` or `forwarded`) |
/// | `AUTHKIT_INTROSPECTION_CLIENT_ID`, `AUTHKIT_INTROSPECTION_CLIENT_SECRET` | none | [`introspection_client`](Self::introspection_client) (both or neither) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// Where the adapter mounts the API (`/auth`): scopes the refresh
    /// cookie and names the server in the OpenAPI document. The handler
    /// itself sees paths relative to it.
    pub mount_path: String,
    /// Largest accepted request body, in bytes (413 above).
    pub body_limit: usize,
    /// Set and accept the tokens as cookies (see
    /// [`cookies`](super::cookies)): token bodies then leave out
    /// `refresh_token`, and `access_token` unless
    /// [`cookie_access_token_in_body`](Self::cookie_access_token_in_body).
    pub cookie_mode: bool,
    /// In cookie mode, still answer `access_token` in the JSON bodies of
    /// login, refresh and MFA verification (for a front end that also calls
    /// other services with a bearer token). Off by default: scripts then see
    /// no token at all. The refresh token never appears in cookie mode.
    pub cookie_access_token_in_body: bool,
    /// `SameSite` of the cookies.
    pub same_site: SameSite,
    /// Origins (`https://app.example.com`) allowed to make state-changing
    /// requests authenticated by cookie. Required in cookie mode.
    pub csrf_allowed_origins: Vec<String>,
    /// Peers whose forwarding header is believed.
    pub trusted_proxies: TrustedProxies,
    /// The one forwarding header the trusted proxies write; the other is
    /// ignored (never "`Forwarded` wins if present").
    pub proxy_header: ProxyHeader,
    /// The client allowed to call `POST /token/introspect` with HTTP Basic
    /// credentials; callers may also use a bearer token holding
    /// [`TOKENS_INTROSPECT`](crate::roles::TOKENS_INTROSPECT).
    pub introspection_client: Option<IntrospectionClient>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            mount_path: "/auth".to_owned(),
            body_limit: DEFAULT_BODY_LIMIT,
            cookie_mode: false,
            cookie_access_token_in_body: false,
            same_site: SameSite::Lax,
            csrf_allowed_origins: Vec::new(),
            trusted_proxies: TrustedProxies::default(),
            proxy_header: ProxyHeader::default(),
            introspection_client: None,
        }
    }
}

impl ApiConfig {
    /// Reads the `AUTHKIT_*` variables of the table above over the
    /// defaults, then validates.
    ///
    /// # Errors
    /// The first variable with an unusable value.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Like [`from_env`](Self::from_env), from explicit pairs.
    ///
    /// # Errors
    /// The first variable with an unusable value.
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
            .collect();
        let get = |var: &str| vars.get(var).map(|v| v.trim());
        let mut c = Self::default();
        if let Some(v) = get("AUTHKIT_MOUNT_PATH") {
            v.clone_into(&mut c.mount_path);
        }
        if let Some(v) = get("AUTHKIT_BODY_LIMIT") {
            c.body_limit = v
                .parse()
                .map_err(|_| error("AUTHKIT_BODY_LIMIT", "expected a number of bytes"))?;
        }
        if let Some(v) = get("AUTHKIT_COOKIE_MODE") {
            c.cookie_mode = flag("AUTHKIT_COOKIE_MODE", v)?;
        }
        if let Some(v) = get("AUTHKIT_COOKIE_ACCESS_TOKEN_IN_BODY") {
            c.cookie_access_token_in_body = flag("AUTHKIT_COOKIE_ACCESS_TOKEN_IN_BODY", v)?;
        }
        if let Some(v) = get("AUTHKIT_COOKIE_SAMESITE") {
            c.same_site = v
                .parse()
                .map_err(|()| error("AUTHKIT_COOKIE_SAMESITE", "expected lax, strict or none"))?;
        }
        if let Some(v) = get("AUTHKIT_CSRF_ORIGINS") {
            c.csrf_allowed_origins = v
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(v) = get("AUTHKIT_TRUSTED_PROXIES") {
            c.trusted_proxies = v.parse().map_err(|bad: String| {
                error(
                    "AUTHKIT_TRUSTED_PROXIES",
                    format!("`{bad}` is not an IP address or CIDR block"),
                )
            })?;
        }
        if let Some(v) = get("AUTHKIT_PROXY_HEADER") {
            c.proxy_header = v.parse().map_err(|()| {
                error(
                    "AUTHKIT_PROXY_HEADER",
                    "expected x-forwarded-for or forwarded",
                )
            })?;
        }
        match (
            get("AUTHKIT_INTROSPECTION_CLIENT_ID"),
            get("AUTHKIT_INTROSPECTION_CLIENT_SECRET"),
        ) {
            (Some(id), Some(secret)) => {
                c.introspection_client = Some(IntrospectionClient::new(id, secret));
            }
            (None, None) => {}
            (Some(_), None) => {
                return Err(error(
                    "AUTHKIT_INTROSPECTION_CLIENT_SECRET",
                    "required with AUTHKIT_INTROSPECTION_CLIENT_ID",
                ));
            }
            (None, Some(_)) => {
                return Err(error(
                    "AUTHKIT_INTROSPECTION_CLIENT_ID",
                    "required with AUTHKIT_INTROSPECTION_CLIENT_SECRET",
                ));
            }
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks the settings hold together.
    ///
    /// # Errors
    /// Names the variable at fault: a mount path that does not start with
    /// `/` or ends with one, a body limit of zero or above 16 MiB, an origin
    /// that is not `scheme://host[:port]`, cookie mode without any allowed
    /// origin, an introspection client id that is empty, holds `:` or
    /// anything but printable ASCII, or a secret shorter than
    /// [`MIN_CLIENT_SECRET`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mount = &self.mount_path;
        if !mount.is_empty()
            && (!mount.starts_with('/')
                || mount.ends_with('/')
                || !mount
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/-_.~".contains(c)))
        {
            return Err(error(
                "AUTHKIT_MOUNT_PATH",
                "expected empty or a path such as /auth (no trailing slash)",
            ));
        }
        if self.body_limit == 0 || self.body_limit > MAX_BODY_LIMIT {
            return Err(error(
                "AUTHKIT_BODY_LIMIT",
                "must be between 1 byte and 16 MiB",
            ));
        }
        if let Some(bad) = self.csrf_allowed_origins.iter().find(|o| !valid_origin(o)) {
            return Err(error(
                "AUTHKIT_CSRF_ORIGINS",
                format!("`{bad}` is not an origin such as https://app.example.com"),
            ));
        }
        if self.cookie_mode && self.csrf_allowed_origins.is_empty() {
            return Err(error(
                "AUTHKIT_CSRF_ORIGINS",
                "cookie mode needs at least one allowed origin",
            ));
        }
        if let Some(client) = &self.introspection_client {
            let id = &client.id;
            if id.is_empty()
                || id.len() > 200
                || !id.bytes().all(|b| b.is_ascii_graphic() && b != b':')
            {
                return Err(error(
                    "AUTHKIT_INTROSPECTION_CLIENT_ID",
                    "expected 1 to 200 printable ASCII characters without `:`",
                ));
            }
            if client.secret.chars().count() < MIN_CLIENT_SECRET {
                return Err(error(
                    "AUTHKIT_INTROSPECTION_CLIENT_SECRET",
                    format!("expected at least {MIN_CLIENT_SECRET} characters"),
                ));
            }
        }
        Ok(())
    }
}

/// `scheme://host[:port]`, nothing after.
fn valid_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@'])
        && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
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
    fn defaults_are_valid_and_documented() {
        let c = ApiConfig::default();
        c.validate().unwrap();
        assert_eq!(c.mount_path, "/auth");
        assert_eq!(c.body_limit, 65_536);
        assert!(!c.cookie_mode);
        assert!(!c.cookie_access_token_in_body);
        assert_eq!(c.same_site, SameSite::Lax);
        assert_eq!(c.proxy_header, ProxyHeader::XForwardedFor);
        assert_eq!(
            ApiConfig::from_vars(Vec::<(String, String)>::new()).unwrap(),
            c
        );
    }

    #[test]
    fn variables_override_defaults() {
        let c = ApiConfig::from_vars([
            ("AUTHKIT_MOUNT_PATH", "/api/auth"),
            ("AUTHKIT_BODY_LIMIT", "1024"),
            ("AUTHKIT_COOKIE_MODE", "true"),
            ("AUTHKIT_COOKIE_SAMESITE", "Strict"),
            ("AUTHKIT_COOKIE_ACCESS_TOKEN_IN_BODY", "yes"),
            (
                "AUTHKIT_CSRF_ORIGINS",
                "https://app.example.com, http://localhost:5173",
            ),
            ("AUTHKIT_TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
            ("AUTHKIT_PROXY_HEADER", "Forwarded"),
            ("AUTHKIT_INTROSPECTION_CLIENT_ID", "resource-server"),
            ("AUTHKIT_INTROSPECTION_CLIENT_SECRET", SECRET),
            ("OTHER", "ignored"),
        ])
        .unwrap();
        assert_eq!(c.mount_path, "/api/auth");
        assert_eq!(c.body_limit, 1024);
        assert!(c.cookie_mode);
        assert!(c.cookie_access_token_in_body);
        assert_eq!(c.same_site, SameSite::Strict);
        assert_eq!(
            c.csrf_allowed_origins,
            ["https://app.example.com", "http://localhost:5173"]
        );
        assert!(c.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(c.trusted_proxies.contains("::1".parse().unwrap()));
        assert!(!c.trusted_proxies.contains("11.0.0.1".parse().unwrap()));
        assert_eq!(c.proxy_header, ProxyHeader::Forwarded);
        let client = c.introspection_client.as_ref().unwrap();
        assert_eq!(client.id(), "resource-server");
        assert!(client.matches("resource-server", SECRET));
        assert!(!client.matches("resource-server", &SECRET[1..]));
        assert!(!client.matches("other", SECRET));
        assert!(!format!("{c:?}").contains(SECRET), "the secret is redacted");
    }

    const SECRET: &str = "an introspection secret of 40 chars long";

    #[test]
    fn bad_values_name_their_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("AUTHKIT_BODY_LIMIT", "big")], "AUTHKIT_BODY_LIMIT"),
            (&[("AUTHKIT_BODY_LIMIT", "0")], "AUTHKIT_BODY_LIMIT"),
            (&[("AUTHKIT_BODY_LIMIT", "999999999")], "AUTHKIT_BODY_LIMIT"),
            (&[("AUTHKIT_COOKIE_MODE", "maybe")], "AUTHKIT_COOKIE_MODE"),
            (
                &[("AUTHKIT_COOKIE_ACCESS_TOKEN_IN_BODY", "sometimes")],
                "AUTHKIT_COOKIE_ACCESS_TOKEN_IN_BODY",
            ),
            (
                &[("AUTHKIT_COOKIE_SAMESITE", "loose")],
                "AUTHKIT_COOKIE_SAMESITE",
            ),
            (
                &[("AUTHKIT_TRUSTED_PROXIES", "10.0.0.0/33")],
                "AUTHKIT_TRUSTED_PROXIES",
            ),
            (
                &[("AUTHKIT_TRUSTED_PROXIES", "proxy.local")],
                "AUTHKIT_TRUSTED_PROXIES",
            ),
            (
                &[("AUTHKIT_PROXY_HEADER", "x-real-ip")],
                "AUTHKIT_PROXY_HEADER",
            ),
            (
                &[("AUTHKIT_INTROSPECTION_CLIENT_ID", "rs")],
                "AUTHKIT_INTROSPECTION_CLIENT_SECRET",
            ),
            (
                &[("AUTHKIT_INTROSPECTION_CLIENT_SECRET", SECRET)],
                "AUTHKIT_INTROSPECTION_CLIENT_ID",
            ),
            (
                &[
                    ("AUTHKIT_INTROSPECTION_CLIENT_ID", "rs"),
                    ("AUTHKIT_INTROSPECTION_CLIENT_SECRET", "short"),
                ],
                "AUTHKIT_INTROSPECTION_CLIENT_SECRET",
            ),
            (
                &[
                    ("AUTHKIT_INTROSPECTION_CLIENT_ID", "a:b"),
                    ("AUTHKIT_INTROSPECTION_CLIENT_SECRET", SECRET),
                ],
                "AUTHKIT_INTROSPECTION_CLIENT_ID",
            ),
            (&[("AUTHKIT_MOUNT_PATH", "auth")], "AUTHKIT_MOUNT_PATH"),
            (&[("AUTHKIT_MOUNT_PATH", "/auth/")], "AUTHKIT_MOUNT_PATH"),
            (
                &[("AUTHKIT_CSRF_ORIGINS", "https://app.example.com/path")],
                "AUTHKIT_CSRF_ORIGINS",
            ),
            (
                &[("AUTHKIT_CSRF_ORIGINS", "app.example.com")],
                "AUTHKIT_CSRF_ORIGINS",
            ),
            (&[("AUTHKIT_COOKIE_MODE", "on")], "AUTHKIT_CSRF_ORIGINS"),
        ];
        for (vars, variable) in cases {
            let err = ApiConfig::from_vars(vars.iter().copied()).unwrap_err();
            assert_eq!(err.variable, *variable, "{vars:?}");
        }
    }

    #[test]
    fn an_empty_mount_path_is_allowed() {
        let c = ApiConfig::from_vars([("AUTHKIT_MOUNT_PATH", "")]).unwrap();
        assert_eq!(c.mount_path, "/auth", "empty values keep the default");
        let c = ApiConfig {
            mount_path: String::new(),
            ..ApiConfig::default()
        };
        c.validate().unwrap();
    }
}
