//! SMS through Twilio's Messages API (feature `twilio`).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use zeroize::Zeroizing;

use super::{SmsMessage, SmsSender};
use crate::config::ConfigError;
use crate::error::{AuthError, AuthResult};

/// Twilio's API base URL.
pub const TWILIO_BASE_URL: &str = "https://api.twilio.com";

/// How long one request to Twilio may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where and as whom to send.
#[derive(Clone)]
pub struct TwilioConfig {
    /// Account SID (`AC...`). `AUTHKIT_TWILIO_ACCOUNT_SID`.
    pub account_sid: String,
    /// Auth token. `AUTHKIT_TWILIO_AUTH_TOKEN`.
    pub auth_token: Zeroizing<String>,
    /// Sender number (E.164) or messaging service. `AUTHKIT_TWILIO_FROM`.
    pub from: String,
    /// API base URL without a trailing slash (tests point it at a local
    /// fake). `AUTHKIT_TWILIO_BASE_URL`, default `https://api.twilio.com`.
    pub base_url: String,
}

impl fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .field("from", &self.from)
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl TwilioConfig {
    /// Reads the `AUTHKIT_TWILIO_*` variables of the process environment.
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
            .collect();
        let get = |var: &str| {
            vars.get(var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |var: &str| {
            get(var).ok_or_else(|| ConfigError {
                variable: var.to_owned(),
                message: "must be set".to_owned(),
            })
        };
        let config = Self {
            account_sid: required("AUTHKIT_TWILIO_ACCOUNT_SID")?,
            auth_token: Zeroizing::new(required("AUTHKIT_TWILIO_AUTH_TOKEN")?),
            from: required("AUTHKIT_TWILIO_FROM")?,
            base_url: get("AUTHKIT_TWILIO_BASE_URL").unwrap_or_else(|| TWILIO_BASE_URL.to_owned()),
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks the values.
    ///
    /// # Errors
    /// The first unusable field, named by its variable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |var: &str, message: &str| {
            Err(ConfigError {
                variable: var.to_owned(),
                message: message.to_owned(),
            })
        };
        // The SID goes into the URL path: letters and digits only.
        if self.account_sid.is_empty()
            || self.account_sid.len() > 64
            || !self.account_sid.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return bad("AUTHKIT_TWILIO_ACCOUNT_SID", "expected letters and digits");
        }
        if self.auth_token.is_empty() {
            return bad("AUTHKIT_TWILIO_AUTH_TOKEN", "must be set");
        }
        if self.from.is_empty() {
            return bad("AUTHKIT_TWILIO_FROM", "must be set");
        }
        if !(self.base_url.starts_with("https://") || self.base_url.starts_with("http://"))
            || self.base_url.ends_with('/')
        {
            return bad(
                "AUTHKIT_TWILIO_BASE_URL",
                "expected an absolute http(s) URL without a trailing slash",
            );
        }
        Ok(())
    }
}

/// Sends each message with one `POST /2010-04-01/Accounts/{sid}/Messages.json`
/// (form fields `To`, `From`, `Body`; HTTP basic auth with the SID and the
/// auth token), over rustls with Mozilla's roots.
///
/// A request waits for Twilio; wrap the sender in an
/// [`SmsQueue`](super::SmsQueue) so that requests to authkit do not.
/// Failures are reported with the HTTP status only: the response body may
/// repeat the number and is not logged.
#[derive(Debug, Clone)]
pub struct TwilioSms {
    config: Arc<TwilioConfig>,
    client: reqwest::Client,
}

impl TwilioSms {
    /// A sender with `config`.
    ///
    /// # Errors
    /// `Internal` for an invalid configuration or TLS set-up failure.
    pub fn new(config: TwilioConfig) -> AuthResult<Self> {
        config.validate().map_err(AuthError::internal)?;
        let client = crate::http_client::client(TIMEOUT)?;
        Ok(Self {
            config: Arc::new(config),
            client,
        })
    }

    fn messages_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.config.base_url, self.config.account_sid
        )
    }
}

#[async_trait]
impl SmsSender for TwilioSms {
    async fn send(&self, message: SmsMessage) -> AuthResult<()> {
        let form = [
            ("To", message.to.as_str()),
            ("From", self.config.from.as_str()),
            ("Body", message.body.as_str()),
        ];
        let response = self
            .client
            .post(self.messages_url())
            .basic_auth(
                &self.config.account_sid,
                Some(self.config.auth_token.as_str()),
            )
            .form(&form)
            .send()
            .await
            // Without the URL: it is ours, but keep errors short and uniform.
            .map_err(|e| AuthError::internal_with("twilio request failed", e.without_url()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(AuthError::internal_msg(format!(
                "twilio answered HTTP {}",
                status.as_u16()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Result<TwilioConfig, ConfigError> {
        TwilioConfig::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    const GOOD: [(&str, &str); 3] = [
        ("AUTHKIT_TWILIO_ACCOUNT_SID", "AC123abc"),
        ("AUTHKIT_TWILIO_AUTH_TOKEN", "tok"),
        ("AUTHKIT_TWILIO_FROM", "+15005550006"),
    ];

    #[test]
    fn config_reads_the_variables_with_the_default_base_url() {
        let c = vars(&GOOD).unwrap();
        assert_eq!(c.account_sid, "AC123abc");
        assert_eq!(c.from, "+15005550006");
        assert_eq!(c.base_url, TWILIO_BASE_URL);
        assert!(!format!("{c:?}").contains("tok\""));
        let mut with_base = GOOD.to_vec();
        with_base.push(("AUTHKIT_TWILIO_BASE_URL", "http://127.0.0.1:9"));
        assert_eq!(vars(&with_base).unwrap().base_url, "http://127.0.0.1:9");
    }

    #[test]
    fn missing_or_bad_values_name_their_variable() {
        for (var, _) in GOOD {
            let pairs: Vec<_> = GOOD.iter().filter(|(k, _)| *k != var).copied().collect();
            assert_eq!(vars(&pairs).unwrap_err().variable, var);
        }
        for (var, value) in [
            ("AUTHKIT_TWILIO_ACCOUNT_SID", "AC/../x"),
            ("AUTHKIT_TWILIO_ACCOUNT_SID", "AC 1"),
            ("AUTHKIT_TWILIO_BASE_URL", "ftp://x"),
            ("AUTHKIT_TWILIO_BASE_URL", "https://api.twilio.com/"),
        ] {
            let mut pairs = GOOD.to_vec();
            pairs.retain(|(k, _)| *k != var);
            pairs.push((var, value));
            assert_eq!(vars(&pairs).unwrap_err().variable, var, "{value}");
        }
    }
}
