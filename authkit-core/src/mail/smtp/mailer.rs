//! Delivery through an SMTP server.

use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::config::{SMTP_URL, SmtpConfig, SmtpTls};
use crate::config::ConfigError;
use crate::error::{AuthError, AuthResult};
use crate::mail::{Mailer, Message};

/// How long one delivery attempt may take, connection included.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends each message through an SMTP server, as `multipart/alternative`
/// (the plain-text body, then the HTML body), from the configured sender.
///
/// Each `send` opens a connection, delivers and closes, and waits for the
/// server (up to 30 s): wrap the mailer in a
/// [`MailQueue`](crate::mail::MailQueue) so requests never wait for mail and
/// failed deliveries are retried.
///
/// Errors name what failed (the server's reply code, a timeout, TLS, the
/// connection) but never the server's reply text, which may quote the
/// recipient; credentials are never logged nor shown by `Debug`.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    config: SmtpConfig,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for `config`. Connects only when sending.
    ///
    /// # Errors
    /// A [`ConfigError`] naming `AUTHKIT_SMTP_URL` when TLS is asked for and
    /// the host is not a name TLS can verify.
    pub fn new(config: SmtpConfig) -> Result<Self, ConfigError> {
        let tls_parameters = || {
            TlsParameters::new(config.host.clone()).map_err(|_| ConfigError {
                variable: SMTP_URL.to_owned(),
                message: "the host is not a name or address TLS can verify".to_owned(),
            })
        };
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls_parameters()?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(SEND_TIMEOUT));
        if let Some((user, password)) = &config.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.to_string()));
        }
        Ok(Self {
            transport: builder.build(),
            from: config.from.clone(),
            config,
        })
    }

    /// A mailer for an `AUTHKIT_SMTP_URL` value and an `AUTHKIT_MAIL_FROM`
    /// value (see [`SmtpConfig`] for their form).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the variable at fault.
    pub fn from_url(url: &str, from: &str) -> Result<Self, ConfigError> {
        Self::new(SmtpConfig::parse(url, from)?)
    }

    /// A mailer configured by `AUTHKIT_SMTP_URL` and `AUTHKIT_MAIL_FROM`;
    /// `None` when `AUTHKIT_SMTP_URL` is unset.
    ///
    /// # Errors
    /// As [`SmtpConfig::from_env`] and [`new`](Self::new).
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        SmtpConfig::from_env()?.map(Self::new).transpose()
    }

    /// The configuration this mailer was built from.
    pub fn config(&self) -> &SmtpConfig {
        &self.config
    }

    /// The email as it goes on the wire.
    fn email(&self, message: Message) -> AuthResult<lettre::Message> {
        let to = message
            .to
            .parse::<Address>()
            .map_err(|_| AuthError::internal_msg("recipient is not a valid email address"))?;
        lettre::Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(message.subject)
            .message_id(None)
            .multipart(MultiPart::alternative_plain_html(
                message.text,
                message.html,
            ))
            .map_err(|err| AuthError::internal_with("email could not be built", err))
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, message: Message) -> AuthResult<()> {
        let email = self.email(message)?;
        self.transport
            .send(email)
            .await
            .map(drop)
            .map_err(|err| AuthError::internal_msg(describe(&err)))
    }
}

/// What went wrong, without the server's reply text (it may quote the
/// recipient's address).
fn describe(err: &lettre::transport::smtp::Error) -> String {
    if let Some(code) = err.status() {
        format!("SMTP server answered {code}")
    } else if err.is_timeout() {
        "SMTP server timed out".to_owned()
    } else if err.is_tls() {
        "TLS with the SMTP server failed".to_owned()
    } else if err.is_client() {
        // The client's own, fixed wording (say, a missing SMTP extension).
        format!("SMTP {err}")
    } else if let Some(io) = err
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
    {
        format!("SMTP connection failed: {io}")
    } else {
        "SMTP exchange failed".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::mail::captured_logs::CapturedLogs;
    use crate::mail::smtp::test_server::{Behaviour, SmtpSink};
    use crate::mail::{DefaultTemplates, MailQueue, MailTemplates, RetryPolicy};

    const FROM: &str = "Acme <no-reply@acme.test>";
    const LINK: &str =
        "https://app.acme.test/verify-email?token=Zm9vYmFyYmF6cXV4LWxvbmctdG9rZW4tdmFsdWUtNDM";

    /// Retries at once: the dead-server tests must not wait for real.
    const QUICK_RETRIES: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        first_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
    };

    fn verification(to: &str) -> Message {
        Message::new(
            to,
            DefaultTemplates.verify_email("Acme", LINK, "042917", 1440),
        )
    }

    /// A URL to a port nothing listens on.
    async fn dead_url() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        format!("smtp://{addr}?tls=none")
    }

    #[tokio::test]
    async fn delivers_a_multipart_message_with_link_and_code() {
        let sink = SmtpSink::start(Behaviour::Accept).await;
        let mailer = SmtpMailer::from_url(&sink.url(), FROM).unwrap();
        mailer.send(verification("ann@example.com")).await.unwrap();

        let received = sink.wait_for(1).await;
        assert_eq!(received.len(), 1);
        let mail = &received[0];
        assert_eq!(mail.mail_from, "no-reply@acme.test");
        assert_eq!(mail.rcpt_to, ["ann@example.com"]);
        assert_eq!(mail.auth, None);
        assert_eq!(
            mail.header("Subject").unwrap(),
            "042917 is your code to confirm your email for Acme"
        );
        assert_eq!(mail.header("From").unwrap(), FROM);
        assert_eq!(mail.header("To").unwrap(), "ann@example.com");
        assert!(mail.header("Date").is_some());
        assert!(mail.header("Message-ID").is_some());
        let content_type = mail.header("Content-Type").unwrap();
        assert!(
            content_type.starts_with("multipart/alternative"),
            "{content_type}"
        );

        let parts = mail.parts();
        assert_eq!(parts.len(), 2, "{}", mail.data);
        let (text_type, text) = &parts[0];
        let (html_type, html) = &parts[1];
        assert!(text_type.starts_with("text/plain"), "{text_type}");
        assert!(html_type.starts_with("text/html"), "{html_type}");
        assert!(text.contains(LINK), "{text}");
        assert!(text.contains("042917"));
        assert!(html.contains(&format!("href=\"{LINK}\"")), "{html}");
        assert!(html.contains("042917"));
    }

    #[tokio::test]
    async fn unicode_bodies_arrive_intact() {
        let sink = SmtpSink::start(Behaviour::Accept).await;
        let mailer = SmtpMailer::from_url(&sink.url(), "Café Zürich <hi@acme.test>").unwrap();
        let message = Message {
            to: "juergen@example.com".into(),
            subject: "Grüße 🚀 日本".into(),
            text: "Hallo Jürgen 🚀 日本語\n".into(),
            html: "<p>Hallo Jürgen 🚀 日本語</p>".into(),
        };
        mailer.send(message).await.unwrap();
        let mail = &sink.wait_for(1).await[0];
        assert_eq!(mail.rcpt_to, ["juergen@example.com"]);
        let subject = mail.header("Subject").unwrap();
        assert!(subject.starts_with("=?utf-8?"), "encoded word: {subject}");
        let parts = mail.parts();
        assert!(parts[0].1.contains("Hallo Jürgen 🚀 日本語"), "{parts:?}");
        assert!(parts[1].1.contains("<p>Hallo Jürgen 🚀 日本語</p>"));
    }

    #[tokio::test]
    async fn a_non_ascii_address_needs_a_server_with_smtputf8() {
        let sink = SmtpSink::start(Behaviour::Accept).await;
        let mailer = SmtpMailer::from_url(&sink.url(), FROM).unwrap();
        let err = mailer
            .send(verification("jürgen@example.com"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AuthError::Internal(c) if c.message().is_some_and(|m| m.starts_with("SMTP") && m.contains("SMTPUTF8"))),
            "{err:?}"
        );
        assert_eq!(sink.data_commands(), 0);
    }

    #[tokio::test]
    async fn a_subject_cannot_inject_headers_or_recipients() {
        let sink = SmtpSink::start(Behaviour::Accept).await;
        let mailer = SmtpMailer::from_url(&sink.url(), FROM).unwrap();
        let message = Message {
            subject: "Hello\r\nBcc: evil@attacker.test\r\n\r\nforged body".into(),
            ..verification("ann@example.com")
        };
        mailer.send(message).await.unwrap();
        let mail = &sink.wait_for(1).await[0];
        assert_eq!(mail.rcpt_to, ["ann@example.com"]);
        assert_eq!(mail.header("Bcc"), None);
        assert!(!mail.data.contains("\r\nBcc:"), "{}", mail.data);
    }

    #[tokio::test]
    async fn credentials_from_the_url_are_sent_decoded() {
        let sink = SmtpSink::start(Behaviour::Accept).await;
        let url = sink.url_with_user("ann%40acme.test:p%40ss%3Aw%25rd");
        let mailer = SmtpMailer::from_url(&url, FROM).unwrap();
        mailer.send(verification("bob@example.com")).await.unwrap();
        let mail = &sink.wait_for(1).await[0];
        assert_eq!(
            mail.auth,
            Some(("ann@acme.test".to_owned(), "p@ss:w%rd".to_owned()))
        );
        let debug = format!("{mailer:?}");
        assert!(!debug.contains("p@ss"), "{debug}");
        assert!(!debug.contains("w%rd"), "{debug}");
    }

    #[tokio::test]
    async fn a_server_without_starttls_is_refused_when_starttls_is_required() {
        let sink = SmtpSink::start(Behaviour::Accept).await;
        let url = sink.url().replace("?tls=none", "");
        let mailer = SmtpMailer::from_url(&url, FROM).unwrap();
        assert_eq!(mailer.config().tls(), SmtpTls::StartTls);
        let err = mailer
            .send(verification("ann@example.com"))
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::Internal(_)), "{err:?}");
        assert_eq!(sink.data_commands(), 0, "nothing sent in plain text");
        assert!(sink.received().is_empty());
    }

    #[tokio::test]
    async fn an_invalid_recipient_fails_before_connecting() {
        let sink = SmtpSink::start(Behaviour::Accept).await;
        let mailer = SmtpMailer::from_url(&sink.url(), FROM).unwrap();
        for to in [
            "",
            "not-an-address",
            "a@",
            "@b.test",
            "a b@c.test",
            "a@b.test\r\nRCPT TO:<x@y.test>",
        ] {
            let err = mailer.send(verification(to)).await.unwrap_err();
            assert!(
                matches!(&err, AuthError::Internal(c) if c.message() == Some("recipient is not a valid email address")),
                "{to:?}: {err:?}"
            );
        }
        assert_eq!(sink.data_commands(), 0);
    }

    #[tokio::test]
    async fn errors_give_the_reply_code_but_not_the_reply_text() {
        let sink = SmtpSink::start(Behaviour::RefuseFirst(1)).await;
        let mailer = SmtpMailer::from_url(&sink.url(), FROM).unwrap();
        let err = mailer
            .send(verification("ann@example.com"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AuthError::Internal(c) if c.message() == Some("SMTP server answered 451")),
            "{err:?}"
        );
        mailer.send(verification("ann@example.com")).await.unwrap();
        assert_eq!(sink.wait_for(1).await.len(), 1);
        assert_eq!(sink.data_commands(), 2);
    }

    #[tokio::test]
    async fn a_dead_server_is_a_connection_error() {
        let mailer = SmtpMailer::from_url(&dead_url().await, FROM).unwrap();
        let err = mailer
            .send(verification("ann@example.com"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AuthError::Internal(c) if c.message().is_some_and(|m| m.starts_with("SMTP connection failed"))),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn through_a_queue_a_dead_server_never_fails_the_caller() {
        let (logs, _guard) = CapturedLogs::start();
        let mailer = SmtpMailer::from_url(&dead_url().await, FROM).unwrap();
        let queue = MailQueue::with_retry(Arc::new(mailer), 8, QUICK_RETRIES);
        queue.send(verification("ann@example.com")).await.unwrap();
        queue.flush().await.unwrap();

        let retries = logs.matching("will retry");
        assert_eq!(retries.len(), 2, "{:?}", logs.lines());
        let given_up = logs.matching("given up");
        assert_eq!(given_up.len(), 1, "{:?}", logs.lines());
        assert!(given_up[0].starts_with("ERROR"));
        assert!(given_up[0].contains("recipient=*@example.com"));
        assert!(given_up[0].contains("attempts=3"));
        assert!(given_up[0].contains("SMTP connection failed"));
        for line in logs.lines() {
            assert!(!line.contains("ann@"), "{line}");
            assert!(!line.contains("042917"), "{line}");
            assert!(!line.contains("token="), "{line}");
        }
    }

    #[tokio::test]
    async fn through_a_queue_a_refused_message_is_retried_and_delivered() {
        let (logs, _guard) = CapturedLogs::start();
        let sink = SmtpSink::start(Behaviour::RefuseFirst(1)).await;
        let mailer = SmtpMailer::from_url(&sink.url(), FROM).unwrap();
        let queue = MailQueue::with_retry(Arc::new(mailer), 8, QUICK_RETRIES);
        queue.send(verification("ann@example.com")).await.unwrap();
        queue.send(verification("bob@example.org")).await.unwrap();
        queue.flush().await.unwrap();

        let received = sink.received();
        let recipients: Vec<_> = received.iter().map(|m| m.rcpt_to.concat()).collect();
        assert_eq!(recipients, ["ann@example.com", "bob@example.org"]);
        assert_eq!(sink.data_commands(), 3, "one refusal, then two deliveries");
        let retries = logs.matching("will retry");
        assert_eq!(retries.len(), 1, "{:?}", logs.lines());
        assert!(retries[0].contains("recipient=*@example.com"));
        assert!(retries[0].contains("SMTP server answered 451"));
        assert!(!retries[0].contains("try again later"), "reply text logged");
        assert!(logs.matching("given up").is_empty());
    }

    #[test]
    fn tls_modes_build_without_connecting() {
        for url in [
            "smtp://mail.acme.test",
            "smtps://mail.acme.test",
            "smtp://127.0.0.1:587?tls=starttls",
            "smtp://[::1]:465",
        ] {
            let mailer = SmtpMailer::from_url(url, FROM).unwrap();
            assert_ne!(mailer.config().tls(), SmtpTls::None, "{url}");
        }
        let err = SmtpMailer::from_url("smtp://h.test", "nobody").unwrap_err();
        assert_eq!(err.variable, "AUTHKIT_MAIL_FROM");
        let err = SmtpMailer::from_url("imap://h.test", FROM).unwrap_err();
        assert_eq!(err.variable, "AUTHKIT_SMTP_URL");
    }
}
