//! Where a browser may be sent after a social sign-in: the `redirect_to`
//! allow-list.

use url::Url;

use crate::error::{AuthError, AuthResult};

/// Longest `redirect_to` accepted.
const MAX_REDIRECT_LEN: usize = 2048;

/// Checks `redirect_to` values. Accepted:
///
/// - a path on the public URL: one leading `/`, not `//` or `/\`, no
///   backslash or control character anywhere (`/dashboard?tab=1`);
/// - an absolute `https://` (or `http://`) URL whose origin (scheme, host,
///   port) is exactly one of the allowed origins, without userinfo
///   (`https://app.example.com/welcome`).
///
/// Everything else is refused: `//evil.example`, `/\evil.example`,
/// `https:evil.example`, `javascript:...`, `trusted.com.evil.com`,
/// `https://trusted.com@evil.com`, look-alike hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectPolicy {
    public_url: Url,
    origins: Vec<String>,
}

impl RedirectPolicy {
    /// A policy resolving paths against `public_url` and accepting its
    /// origin plus `origins` (`https://app.example.com`).
    ///
    /// # Errors
    /// `Internal` when `public_url` or an origin is not an absolute
    /// http(s) URL.
    pub fn new(public_url: &str, origins: &[String]) -> AuthResult<Self> {
        let public_url = Url::parse(public_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| AuthError::internal_msg("the public URL is not an http(s) URL"))?;
        let mut allowed = vec![public_url.origin().ascii_serialization()];
        for origin in origins {
            let parsed = Url::parse(origin)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .ok_or_else(|| {
                    AuthError::internal_msg(format!("`{origin}` is not an http(s) origin"))
                })?;
            allowed.push(parsed.origin().ascii_serialization());
        }
        Ok(Self {
            public_url,
            origins: allowed,
        })
    }

    /// The public URL, where a sign-in without `redirect_to` lands.
    pub fn default_target(&self) -> String {
        self.public_url.as_str().to_owned()
    }

    /// The absolute URL `redirect_to` stands for, if it is allowed.
    ///
    /// # Errors
    /// `Validation` (`redirect_to` / `redirect_not_allowed`).
    pub fn check(&self, redirect_to: &str) -> AuthResult<String> {
        let refused = || {
            AuthError::invalid_field(
                "redirect_to",
                "redirect_not_allowed",
                "Use a path on this site or a URL of an allowed origin.",
            )
        };
        let raw = redirect_to;
        if raw.is_empty()
            || raw.len() > MAX_REDIRECT_LEN
            || raw
                .chars()
                .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
        {
            return Err(refused());
        }
        if raw.starts_with('/') {
            if raw.starts_with("//") {
                return Err(refused());
            }
            let resolved = self.public_url.join(raw).map_err(|_| refused())?;
            if resolved.origin() != self.public_url.origin() {
                return Err(refused());
            }
            return Ok(resolved.into());
        }
        let lower = raw.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://")) {
            return Err(refused());
        }
        let url = Url::parse(raw).map_err(|_| refused())?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refused());
        }
        let origin = url.origin().ascii_serialization();
        if self.origins.contains(&origin) {
            Ok(url.into())
        } else {
            Err(refused())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn policy() -> RedirectPolicy {
        RedirectPolicy::new(
            "https://trusted.com",
            &["https://app.trusted.com".to_owned()],
        )
        .unwrap()
    }

    #[test]
    fn paths_and_allowed_origins_pass() {
        let p = policy();
        assert_eq!(p.check("/").unwrap(), "https://trusted.com/");
        assert_eq!(
            p.check("/dashboard?tab=1#top").unwrap(),
            "https://trusted.com/dashboard?tab=1#top"
        );
        assert_eq!(
            p.check("https://app.trusted.com/welcome").unwrap(),
            "https://app.trusted.com/welcome"
        );
        assert_eq!(
            p.check("HTTPS://TRUSTED.COM/x").unwrap(),
            "https://trusted.com/x"
        );
        assert_eq!(p.default_target(), "https://trusted.com/");
    }

    #[test]
    fn open_redirect_tricks_are_refused() {
        let p = policy();
        for bad in [
            "",
            "//evil.com",
            "//evil.com/path",
            "/\\evil.com",
            "\\\\evil.com",
            "/\t/evil.com",
            "https:evil.com",
            "https:/evil.com",
            "http:evil.com",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,<script>",
            "evil.com",
            "trusted.com",
            "https://trusted.com.evil.com",
            "https://trusted.com@evil.com",
            "https://user:pass@trusted.com/",
            "https://evil.com/https://trusted.com",
            "https://evil.com?https://trusted.com",
            "https://trusted.com:8443/",
            "http://trusted.com/",
            "https://xn--trusted-c3a.com/",
            "https://trustéd.com/",
            "https://app.trusted.com.evil.com/",
            "ftp://trusted.com/",
            " /dashboard",
            "/dash board",
        ] {
            assert!(p.check(bad).is_err(), "{bad:?} accepted");
            if let Err(e) = p.check(bad) {
                assert_eq!(e.field_errors()[0].code, "redirect_not_allowed");
            }
        }
        assert!(p.check(&format!("/{}", "a".repeat(3000))).is_err());
    }

    #[test]
    fn bad_configuration_is_refused() {
        assert!(RedirectPolicy::new("trusted.com", &[]).is_err());
        assert!(RedirectPolicy::new("https://trusted.com", &["javascript:x".to_owned()]).is_err());
    }

    /// Property test ("fuzzing") of `redirect_to`: any value is refused
    /// with `redirect_not_allowed` or resolves to a URL on the public
    /// URL's origin or an allowed one, without credentials.
    #[test]
    fn any_redirect_to_lands_on_an_allowed_origin_or_is_refused() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};

        let p = policy();
        let allowed = ["https://trusted.com", "https://app.trusted.com"];
        let value = prop_oneof![
            ".{0,60}",
            (
                prop::sample::select(vec![
                    "/",
                    "//",
                    "/\\",
                    "https://",
                    "http://",
                    "HTTPS://",
                    "https:",
                    "javascript:",
                    "https://trusted.com",
                    "https://app.trusted.com",
                    "https://trusted.com.",
                    "https://trusted.com@",
                    "/%2f",
                    "/..",
                    "https://app.trusted.com:443",
                    "https://app.trusted.com:8443",
                ]),
                "[!-~]{0,40}",
            )
                .prop_map(|(a, b)| format!("{a}{b}")),
        ];
        let mut runner = TestRunner::new(Config {
            cases: 10_000,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&value, |raw| {
                match p.check(&raw) {
                    Ok(target) => {
                        let url = Url::parse(&target).unwrap();
                        let origin = url.origin().ascii_serialization();
                        prop_assert!(allowed.contains(&origin.as_str()), "{raw} -> {target}");
                        prop_assert!(url.username().is_empty() && url.password().is_none());
                    }
                    Err(AuthError::Validation(errors)) => {
                        prop_assert_eq!(errors.len(), 1);
                        prop_assert_eq!(errors[0].code.as_str(), "redirect_not_allowed");
                    }
                    Err(other) => prop_assert!(false, "{raw}: {other:?}"),
                }
                Ok(())
            })
            .unwrap();
    }
}
