//! Real delivery over SMTP (cargo feature `smtp`): [`SmtpMailer`],
//! configured by [`SmtpConfig`] from `AUTHKIT_SMTP_URL` and
//! `AUTHKIT_MAIL_FROM`.

mod config;
mod mailer;
#[cfg(test)]
mod test_server;

pub use config::{SmtpConfig, SmtpTls};
pub use mailer::SmtpMailer;
