//! `AUTHKIT_SMTP_URL` and `AUTHKIT_MAIL_FROM`: where and as whom mail is
//! sent.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use lettre::message::Mailbox;
use percent_encoding::percent_decode_str;
use url::{Host, Url};
use zeroize::Zeroizing;

use crate::config::ConfigError;

/// The variable holding the SMTP server URL.
pub(super) const SMTP_URL: &str = "AUTHKIT_SMTP_URL";
/// The variable holding the sender mailbox.
pub(super) const MAIL_FROM: &str = "AUTHKIT_MAIL_FROM";

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text, credentials and mail readable on the network: only for a
    /// server on the same host or a test server. `?tls=none`.
    None,
    /// Plain connection upgraded with STARTTLS, which the server must offer
    /// (usually port 587). `?tls=starttls`; the default except on port 465.
    StartTls,
    /// TLS from the first byte ("implicit TLS", usually port 465).
    /// `?tls=tls`; the default on port 465 and for `smtps://`.
    Tls,
}

impl SmtpTls {
    /// The port used when the URL names none.
    fn default_port(self) -> u16 {
        match self {
            Self::None => 25,
            Self::StartTls => 587,
            Self::Tls => 465,
        }
    }
}

impl FromStr for SmtpTls {
    type Err = ();

    /// `none`, `starttls` or `tls`, in any case.
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "starttls" => Ok(Self::StartTls),
            "tls" => Ok(Self::Tls),
            _ => Err(()),
        }
    }
}

/// A validated SMTP configuration: server, protection, credentials and
/// sender; build an [`SmtpMailer`](super::SmtpMailer) from it.
///
/// The URL has the form `smtp://user:password@host:port?tls=MODE`:
///
/// - scheme `smtp` (or `smtps`, which means `tls=tls`);
/// - user and password are optional (both or neither) and percent-encoded
///   (`@` is `%40`, `:` is `%3A`, `%` is `%25`);
/// - `tls` is `none`, `starttls` or `tls`; without it, port 465 (and
///   `smtps://`) means `tls`, any other port `starttls`;
/// - without a port: 465 for `tls`, 587 for `starttls`, 25 for `none`.
///
/// The sender is a mailbox such as `Acme <no-reply@acme.test>` or a bare
/// address. Neither the password nor the URL appears in errors or in
/// `Debug` output.
#[derive(Clone)]
pub struct SmtpConfig {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) tls: SmtpTls,
    pub(super) credentials: Option<(String, Zeroizing<String>)>,
    pub(super) from: Mailbox,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username())
            .field("password", &self.credentials.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from())
            .finish()
    }
}

impl SmtpConfig {
    /// Parses an `AUTHKIT_SMTP_URL` value and an `AUTHKIT_MAIL_FROM` value.
    ///
    /// # Errors
    /// A [`ConfigError`] naming `AUTHKIT_SMTP_URL` or `AUTHKIT_MAIL_FROM`,
    /// saying what is wrong without repeating the value.
    pub fn parse(url: &str, from: &str) -> Result<Self, ConfigError> {
        let server = parse_url(url)?;
        Ok(Self {
            host: server.host,
            port: server.port,
            tls: server.tls,
            credentials: server.credentials,
            from: parse_from(from)?,
        })
    }

    /// Reads `AUTHKIT_SMTP_URL` and `AUTHKIT_MAIL_FROM` from the process
    /// environment; `None` when `AUTHKIT_SMTP_URL` is unset or empty (no
    /// SMTP: the host picks another mailer).
    ///
    /// # Errors
    /// An unusable value, or `AUTHKIT_MAIL_FROM` missing while
    /// `AUTHKIT_SMTP_URL` is set.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Like [`from_env`](Self::from_env), from explicit pairs (tests,
    /// config files).
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_vars<I, K, V>(vars: I) -> Result<Option<Self>, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, v)| (k == SMTP_URL || k == MAIL_FROM) && !v.trim().is_empty())
            .collect();
        let Some(url) = vars.get(SMTP_URL) else {
            return Ok(None);
        };
        let from = vars.get(MAIL_FROM).ok_or_else(|| {
            error(
                MAIL_FROM,
                "required with AUTHKIT_SMTP_URL: the sender, such as Acme <no-reply@acme.test>",
            )
        })?;
        Self::parse(url, from).map(Some)
    }

    /// The server's host name or IP address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How the connection is protected.
    pub fn tls(&self) -> SmtpTls {
        self.tls
    }

    /// The user name to authenticate with, if any (the password is not
    /// readable).
    pub fn username(&self) -> Option<&str> {
        self.credentials.as_ref().map(|(user, _)| user.as_str())
    }

    /// The sender, formatted as a mailbox (`Acme <no-reply@acme.test>`).
    pub fn from(&self) -> String {
        self.from.to_string()
    }
}

fn error(variable: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: variable.to_owned(),
        message: message.into(),
    }
}

fn url_error(message: impl Into<String>) -> ConfigError {
    error(SMTP_URL, message)
}

/// What `AUTHKIT_SMTP_URL` says.
struct Server {
    host: String,
    port: u16,
    tls: SmtpTls,
    credentials: Option<(String, Zeroizing<String>)>,
}

fn parse_url(raw: &str) -> Result<Server, ConfigError> {
    // The parser's own messages ("invalid port number", "empty host") never
    // contain the input, so they are safe to pass on.
    let url = Url::parse(raw.trim()).map_err(|err| {
        url_error(format!(
            "expected smtp://user:password@host:port?tls=none|starttls|tls ({err})"
        ))
    })?;
    let implicit_tls = match url.scheme() {
        "smtp" => false,
        "smtps" => true,
        _ => return Err(url_error("the scheme must be smtp:// or smtps://")),
    };
    let host = match url.host() {
        // smtp:// is not a scheme the URL parser knows, so it leaves the
        // host as written (percent-encoded, any case); normalize it as for
        // http:// (lowercase, IDNA, IPv4 recognized).
        Some(Host::Domain(opaque)) if !opaque.is_empty() => {
            let written = percent_decode_str(opaque)
                .decode_utf8()
                .map_err(|_| url_error("the server host is not valid UTF-8"))?;
            match Host::parse(&written) {
                Ok(Host::Domain(domain)) if !domain.is_empty() => domain,
                Ok(Host::Ipv4(ip)) => ip.to_string(),
                Ok(Host::Ipv6(ip)) => ip.to_string(),
                _ => return Err(url_error("the server host is not a valid host name")),
            }
        }
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) => ip.to_string(),
        _ => return Err(url_error("the server host is missing")),
    };
    if !matches!(url.path(), "" | "/") {
        return Err(url_error("a path is not allowed after the host"));
    }
    if url.fragment().is_some() {
        return Err(url_error("a #fragment is not allowed"));
    }

    let mut tls = None;
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "tls" if tls.is_some() => return Err(url_error("tls is given twice")),
            "tls" => {
                tls = Some(
                    value
                        .parse::<SmtpTls>()
                        .map_err(|()| url_error("tls must be none, starttls or tls"))?,
                );
            }
            _ => return Err(url_error("the only query parameter allowed is tls")),
        }
    }
    if implicit_tls && matches!(tls, Some(SmtpTls::None | SmtpTls::StartTls)) {
        return Err(url_error(
            "smtps:// means tls=tls; use smtp:// for another mode",
        ));
    }
    let tls = match (tls, url.port()) {
        (Some(tls), _) => tls,
        _ if implicit_tls => SmtpTls::Tls,
        (None, Some(465)) => SmtpTls::Tls,
        (None, _) => SmtpTls::StartTls,
    };
    let port = match url.port() {
        Some(0) => return Err(url_error("the port must be between 1 and 65535")),
        Some(port) => port,
        None => tls.default_port(),
    };

    let credentials = match (url.username(), url.password()) {
        ("", None) => None,
        ("", Some(_)) => return Err(url_error("a password was given without a user name")),
        (_, None) => return Err(url_error("a user name was given without a password")),
        (user, Some(password)) => Some((
            decode(user, "the user name")?,
            Zeroizing::new(decode(password, "the password")?),
        )),
    };
    Ok(Server {
        host,
        port,
        tls,
        credentials,
    })
}

/// Percent-decodes one part of the user info.
fn decode(encoded: &str, what: &str) -> Result<String, ConfigError> {
    percent_decode_str(encoded)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| url_error(format!("{what} is not valid percent-encoded UTF-8")))
}

fn parse_from(raw: &str) -> Result<Mailbox, ConfigError> {
    raw.trim().parse::<Mailbox>().map_err(|_| {
        error(
            MAIL_FROM,
            "expected a sender such as Acme <no-reply@acme.test> or no-reply@acme.test",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: &str = "Acme <no-reply@acme.test>";

    fn parse(url: &str) -> SmtpConfig {
        SmtpConfig::parse(url, FROM).unwrap()
    }

    /// Parsing fails naming `variable`; returns the message.
    fn fails(url: &str, from: &str, variable: &str) -> String {
        let err = SmtpConfig::parse(url, from).unwrap_err();
        assert_eq!(err.variable, variable, "{url} / {from}: {err}");
        assert!(err.to_string().contains(variable));
        err.message
    }

    #[test]
    fn the_port_picks_the_tls_mode_and_the_mode_picks_the_port() {
        let cases = [
            ("smtp://mail.acme.test", SmtpTls::StartTls, 587),
            ("smtp://mail.acme.test:587", SmtpTls::StartTls, 587),
            ("smtp://mail.acme.test:465", SmtpTls::Tls, 465),
            ("smtp://mail.acme.test:25", SmtpTls::StartTls, 25),
            ("smtp://mail.acme.test:2525/", SmtpTls::StartTls, 2525),
            ("smtps://mail.acme.test", SmtpTls::Tls, 465),
            ("smtps://mail.acme.test:2465", SmtpTls::Tls, 2465),
            ("smtps://mail.acme.test?tls=tls", SmtpTls::Tls, 465),
        ];
        for (url, tls, port) in cases {
            let config = parse(url);
            assert_eq!((config.tls(), config.port()), (tls, port), "{url}");
            assert_eq!(config.host(), "mail.acme.test");
            assert_eq!(config.username(), None);
        }
    }

    #[test]
    fn an_explicit_tls_mode_wins() {
        let cases = [
            ("smtp://h.test?tls=none", SmtpTls::None, 25),
            ("smtp://h.test:2525?tls=none", SmtpTls::None, 2525),
            ("smtp://h.test?tls=starttls", SmtpTls::StartTls, 587),
            ("smtp://h.test:465?tls=starttls", SmtpTls::StartTls, 465),
            ("smtp://h.test?tls=tls", SmtpTls::Tls, 465),
            ("smtp://h.test:587?tls=tls", SmtpTls::Tls, 587),
            ("smtp://h.test?tls=STARTTLS", SmtpTls::StartTls, 587),
            ("  smtp://h.test?tls=None  ", SmtpTls::None, 25),
        ];
        for (url, tls, port) in cases {
            let config = parse(url);
            assert_eq!((config.tls(), config.port()), (tls, port), "{url}");
        }
    }

    #[test]
    fn hosts_may_be_names_ip_addresses_or_unicode() {
        assert_eq!(parse("smtp://127.0.0.1:2525").host(), "127.0.0.1");
        assert_eq!(parse("smtp://[::1]:2525").host(), "::1");
        assert_eq!(parse("smtp://MAIL.Acme.TEST").host(), "mail.acme.test");
        assert_eq!(parse("smtp://müller.test").host(), "xn--mller-kva.test");
        assert_eq!(
            parse("smtp://m%C3%BCller.test").host(),
            "xn--mller-kva.test"
        );
        assert_eq!(parse("smtp://0x7f.1").host(), "127.0.0.1");
    }

    #[test]
    fn user_info_is_percent_decoded() {
        let config = parse("smtp://ann%40acme.test:p%40ss%3Aw%25rd%2F%F0%9F%94%91@h.test");
        assert_eq!(config.username(), Some("ann@acme.test"));
        let (_, password) = config.credentials.as_ref().unwrap();
        assert_eq!(password.as_str(), "p@ss:w%rd/🔑");

        let plain = parse("smtp://apikey:s3cret@h.test:587");
        assert_eq!(plain.username(), Some("apikey"));
        assert_eq!(plain.credentials.as_ref().unwrap().1.as_str(), "s3cret");
    }

    #[test]
    fn bad_urls_fail_naming_the_variable_without_repeating_secrets() {
        let cases = [
            ("", "expected smtp://"),
            ("   ", "expected smtp://"),
            ("mail.acme.test", "expected smtp://"),
            ("http://u:secret@mail.acme.test", "scheme"),
            ("mail.acme.test:587", "scheme"),
            ("smtp://", "host"),
            ("smtp://u:secret@:587", "host"),
            ("smtp://bad%FFhost.test", "host"),
            ("smtp://bad%20host.test", "host"),
            ("smtp://xn--a.test", "host"),
            ("smtp://u:secret@h.test:0", "port"),
            ("smtp://u:secret@h.test:65536", "port"),
            ("smtp://u:secret@h.test:-1", "port"),
            ("smtp://u:secret@h.test:smtp", "port"),
            ("smtp://h.test?tls=ssl", "tls must be"),
            ("smtp://h.test?tls=", "tls must be"),
            ("smtp://h.test?tls=none&tls=tls", "twice"),
            ("smtp://u:secret@h.test?password=secret", "query parameter"),
            ("smtp://h.test/relay", "path"),
            ("smtp://h.test#x", "fragment"),
            ("smtps://h.test?tls=none", "smtps://"),
            ("smtps://h.test?tls=starttls", "smtps://"),
            ("smtp://:secret@h.test", "without a user name"),
            ("smtp://user@h.test", "without a password"),
            ("smtp://u:%FF%FEsecret@h.test", "password is not valid"),
            ("smtp://%FF:secret@h.test", "user name is not valid"),
        ];
        for (url, expected) in cases {
            let message = fails(url, FROM, SMTP_URL);
            assert!(message.contains(expected), "{url}: {message}");
            assert!(!message.contains("secret"), "{url}: {message}");
        }
    }

    #[test]
    fn huge_urls_do_not_panic() {
        let long_host = format!("smtp://{}.test", "a".repeat(100_000));
        // Either accepted as a (useless) name or refused; never a panic.
        if let Ok(config) = SmtpConfig::parse(&long_host, FROM) {
            assert!(config.host().len() > 100_000);
        }
        let long_password = format!("smtp://u:{}@h.test", "%41".repeat(10_000));
        let config = parse(&long_password);
        assert_eq!(config.credentials.unwrap().1.len(), 10_000);
    }

    #[test]
    fn the_sender_is_a_mailbox() {
        assert_eq!(parse("smtp://h.test").from(), FROM);
        let bare = SmtpConfig::parse("smtp://h.test", " no-reply@acme.test ").unwrap();
        assert_eq!(bare.from(), "no-reply@acme.test");
        let unicode = SmtpConfig::parse("smtp://h.test", "Café Zürich <hi@acme.test>").unwrap();
        assert!(
            unicode.from().contains("<hi@acme.test>"),
            "{}",
            unicode.from()
        );
    }

    #[test]
    fn bad_senders_fail_naming_the_variable() {
        for from in [
            "",
            "no-reply",
            "Acme <no-reply>",
            "Acme no-reply@acme.test>",
            "@acme.test",
            "a@b.test, c@d.test",
            "a@b.test\r\nBcc: evil@attacker.test",
        ] {
            let message = fails("smtp://h.test", from, MAIL_FROM);
            assert!(message.contains("sender"), "{from:?}: {message}");
        }
        // The URL is checked first.
        fails("http://h.test", "", SMTP_URL);
    }

    #[test]
    fn from_vars_reads_both_variables() {
        let config = SmtpConfig::from_vars([
            ("AUTHKIT_SMTP_URL", "smtp://u:pw@mail.acme.test:465"),
            ("AUTHKIT_MAIL_FROM", FROM),
            ("OTHER", "ignored"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(config.host(), "mail.acme.test");
        assert_eq!(config.tls(), SmtpTls::Tls);
        assert_eq!(config.from(), FROM);
    }

    #[test]
    fn from_vars_without_a_url_means_no_smtp() {
        let none: [(&str, &str); 0] = [];
        assert!(SmtpConfig::from_vars(none).unwrap().is_none());
        assert!(
            SmtpConfig::from_vars([("AUTHKIT_SMTP_URL", " "), ("AUTHKIT_MAIL_FROM", FROM)])
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn from_vars_fails_naming_the_variable() {
        let err = SmtpConfig::from_vars([("AUTHKIT_SMTP_URL", "smtp://h.test")]).unwrap_err();
        assert_eq!(err.variable, MAIL_FROM);
        assert!(err.message.contains("required"));
        let err = SmtpConfig::from_vars([
            ("AUTHKIT_SMTP_URL", "smtp://h.test"),
            ("AUTHKIT_MAIL_FROM", "nobody"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, MAIL_FROM);
        let err = SmtpConfig::from_vars([
            ("AUTHKIT_SMTP_URL", "ftp://h.test"),
            ("AUTHKIT_MAIL_FROM", FROM),
        ])
        .unwrap_err();
        assert_eq!(err.variable, SMTP_URL);
    }

    #[test]
    fn debug_output_hides_the_password() {
        let config = parse("smtp://ann:hunter2-secret@mail.acme.test");
        let debug = format!("{config:?}");
        assert!(debug.contains("mail.acme.test"));
        assert!(debug.contains("ann"));
        assert!(debug.contains("<redacted>"));
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn tls_modes_parse_in_any_case() {
        assert_eq!("none".parse(), Ok(SmtpTls::None));
        assert_eq!("StartTLS".parse(), Ok(SmtpTls::StartTls));
        assert_eq!("TLS".parse(), Ok(SmtpTls::Tls));
        assert_eq!("ssl".parse::<SmtpTls>(), Err(()));
        assert_eq!("".parse::<SmtpTls>(), Err(()));
    }

    /// Property test ("fuzzing") of `AUTHKIT_SMTP_URL` and
    /// `AUTHKIT_MAIL_FROM`: any values parse or fail naming their variable,
    /// never panic, and an error never repeats the password.
    #[test]
    fn any_smtp_url_parses_or_names_its_variable() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};

        let url = prop_oneof![
            ".{0,60}",
            (
                prop::sample::select(vec!["smtp://", "smtps://", "SMTP://", "http://", ""]),
                prop::option::of("[!-~]{0,12}"),
                "[!-~]{0,24}",
                prop::option::of(prop_oneof![
                    (0u32..70_000).prop_map(|p| p.to_string()),
                    "[ -~]{0,6}"
                ]),
                prop::option::of(prop_oneof![
                    Just("tls=none".to_owned()),
                    Just("tls=starttls".to_owned()),
                    Just("tls=tls".to_owned()),
                    "[ -~]{0,20}",
                ]),
            )
                .prop_map(|(scheme, user, host, port, query)| {
                    let mut url = scheme.to_owned();
                    if let Some(user) = user {
                        url.push_str(&format!("{user}:SeCrEt-pw-0f9d@"));
                    }
                    url.push_str(&host);
                    if let Some(port) = port {
                        url.push_str(&format!(":{port}"));
                    }
                    if let Some(query) = query {
                        url.push_str(&format!("?{query}"));
                    }
                    url
                }),
        ];
        let from = prop_oneof![
            Just(FROM.to_owned()),
            ".{0,40}",
            "[a-z]{1,8}@[a-z]{1,8}\\.test",
        ];
        let mut runner = TestRunner::new(Config {
            cases: 10_000,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&(url, from), |(url, from)| {
                match SmtpConfig::parse(&url, &from) {
                    Ok(config) => {
                        prop_assert!(!config.host().is_empty());
                        prop_assert!(config.port() != 0);
                        let debug = format!("{config:?}");
                        prop_assert!(!debug.contains("SeCrEt-pw-0f9d"), "{}", debug);
                    }
                    Err(err) => {
                        prop_assert!(
                            err.variable == SMTP_URL || err.variable == MAIL_FROM,
                            "{err}"
                        );
                        prop_assert!(!err.to_string().contains("SeCrEt-pw-0f9d"), "{err}");
                    }
                }
                Ok(())
            })
            .unwrap();
    }
}
