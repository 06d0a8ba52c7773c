//! The wording of the emails authkit sends.

use super::Rendered;

/// The emails authkit sends; override any method to change its wording.
///
/// Every method has a default body with the built-in wording, so a host
/// implements only the emails it wants to change. Links arrive fully built
/// (from the configured public URL) and must appear as given. Anything put
/// into HTML must go through [`escape_html`].
pub trait MailTemplates: Send + Sync {
    /// Email verification: a link and the same secret as a 6-digit code;
    /// either one verifies the address. The code is in the subject too, so
    /// it can be read from a notification.
    fn verify_email(&self, app_name: &str, link: &str, code: &str, valid_minutes: i64) -> Rendered {
        let validity = validity(valid_minutes);
        let text = format!(
            "Confirm your email address for {app_name} by opening this link:\n\n\
             {link}\n\n\
             Or enter this code: {code}\n\n\
             The link and the code expire in {validity}. If you did not sign up \
             for {app_name}, you can ignore this email.\n"
        );
        let subject = format!("{code} is your code to confirm your email for {app_name}");
        let (app, link, code) = (escape_html(app_name), escape_html(link), escape_html(code));
        let html = document(&format!(
            "<p>Confirm your email address for <strong>{app}</strong>.</p>\n\
             <p><a href=\"{link}\">Confirm email address</a></p>\n\
             <p>Or enter this code: <strong style=\"font-size:20px;letter-spacing:4px\">{code}</strong></p>\n\
             <p>The link and the code expire in {validity}. If you did not sign up \
             for {app}, you can ignore this email.</p>\n\
             {fallback}",
            fallback = link_fallback(&link),
        ));
        Rendered {
            subject,
            text,
            html,
        }
    }

    /// Password reset link; says to ignore the email if it was not asked for.
    fn password_reset(&self, app_name: &str, link: &str, valid_minutes: i64) -> Rendered {
        let validity = validity(valid_minutes);
        let text = format!(
            "Someone asked to reset the password of your {app_name} account. \
             To choose a new password, open this link:\n\n\
             {link}\n\n\
             The link expires in {validity} and works once. If you did not ask \
             for this, ignore this email: your password stays unchanged.\n"
        );
        let (app, link) = (escape_html(app_name), escape_html(link));
        let html = document(&format!(
            "<p>Someone asked to reset the password of your <strong>{app}</strong> account.</p>\n\
             <p><a href=\"{link}\">Choose a new password</a></p>\n\
             <p>The link expires in {validity} and works once. If you did not ask \
             for this, ignore this email: your password stays unchanged.</p>\n\
             {fallback}",
            fallback = link_fallback(&link),
        ));
        Rendered {
            subject: format!("Reset your {app_name} password"),
            text,
            html,
        }
    }

    /// Registration confirmation code, in the subject and the body.
    fn registration_code(&self, app_name: &str, code: &str, valid_minutes: i64) -> Rendered {
        let validity = validity(valid_minutes);
        let text = format!(
            "Your code to finish signing up for {app_name} is:\n\n\
             {code}\n\n\
             It expires in {validity}. If you did not try to sign up, you can \
             ignore this email.\n"
        );
        let subject = format!("{code} is your {app_name} registration code");
        let (app, code) = (escape_html(app_name), escape_html(code));
        let html = document(&format!(
            "<p>Your code to finish signing up for <strong>{app}</strong> is:</p>\n\
             <p><strong style=\"font-size:20px;letter-spacing:4px\">{code}</strong></p>\n\
             <p>It expires in {validity}. If you did not try to sign up, you can \
             ignore this email.</p>\n"
        ));
        Rendered {
            subject,
            text,
            html,
        }
    }

    /// Invitation to join an organisation: who invited, the organisation,
    /// and the link to accept (it works once, for the invited address).
    fn org_invite(
        &self,
        app_name: &str,
        org_name: &str,
        inviter: &str,
        link: &str,
        valid_minutes: i64,
    ) -> Rendered {
        let validity = validity(valid_minutes);
        let text = format!(
            "{inviter} invited you to join {org_name} on {app_name}. \
             To accept, sign in with this email address and open this link:\n\n\
             {link}\n\n\
             The invitation expires in {validity} and works once. If you do not \
             want to join, you can ignore this email.\n"
        );
        let subject = format!("Join {org_name} on {app_name}");
        let (app, org, who, link) = (
            escape_html(app_name),
            escape_html(org_name),
            escape_html(inviter),
            escape_html(link),
        );
        let html = document(&format!(
            "<p>{who} invited you to join <strong>{org}</strong> on {app}.</p>\n\
             <p><a href=\"{link}\">Accept the invitation</a></p>\n\
             <p>Sign in with this email address to accept. The invitation expires \
             in {validity} and works once. If you do not want to join, you can \
             ignore this email.</p>\n\
             {fallback}",
            fallback = link_fallback(&link),
        ));
        Rendered {
            subject,
            text,
            html,
        }
    }
}

/// The built-in wording.
#[derive(Debug, Default, Clone, Copy)]
pub struct DefaultTemplates;

impl MailTemplates for DefaultTemplates {}

/// Escapes `& < > " '` so that `text` is inert in HTML content and in quoted
/// attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// "1 minute", "15 minutes", "1 hour", "24 hours", "7 days".
fn validity(minutes: i64) -> String {
    match minutes {
        1 => "1 minute".to_owned(),
        60 => "1 hour".to_owned(),
        m if m > 1440 && m % 1440 == 0 => format!("{} days", m / 1440),
        m if m > 60 && m % 60 == 0 => format!("{} hours", m / 60),
        m => format!("{m} minutes"),
    }
}

/// Wraps an HTML body in a minimal document.
fn document(body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n<body style=\"font-family:sans-serif;line-height:1.5\">\n\
         {body}</body>\n</html>\n"
    )
}

/// The link spelled out, for clients that do not follow it; `link` is
/// already escaped.
fn link_fallback(link: &str) -> String {
    format!(
        "<p style=\"color:#666;font-size:12px\">If the button does not work, \
         copy this address into your browser:<br>{link}</p>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "https://app.example.com/verify?token=abc&next=%2F";
    const LINK_HTML: &str = "https://app.example.com/verify?token=abc&amp;next=%2F";

    #[test]
    fn invitations_escape_what_members_typed() {
        let r = DefaultTemplates.org_invite("App", "<Acme & Co>", "ann@example.com", LINK, 10080);
        assert!(r.text.contains("<Acme & Co>") && r.text.contains(LINK));
        assert!(r.text.contains("7 days"));
        assert!(r.html.contains("&lt;Acme &amp; Co&gt;") && !r.html.contains("<Acme"));
        assert!(r.html.contains(LINK_HTML));
    }

    #[test]
    fn escape_html_covers_the_five_characters() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&amp;</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
        );
        assert_eq!(escape_html(""), "");
        assert_eq!(escape_html("Zürich 🚀 日本"), "Zürich 🚀 日本");
    }

    #[test]
    fn validity_reads_naturally() {
        assert_eq!(validity(1), "1 minute");
        assert_eq!(validity(10), "10 minutes");
        assert_eq!(validity(60), "1 hour");
        assert_eq!(validity(90), "90 minutes");
        assert_eq!(validity(1440), "24 hours");
        assert_eq!(validity(2880), "2 days");
        assert_eq!(validity(0), "0 minutes");
    }

    #[test]
    fn verify_email_carries_link_code_and_validity() {
        let r = DefaultTemplates.verify_email("Acme", LINK, "042917", 1440);
        assert_eq!(
            r.subject,
            "042917 is your code to confirm your email for Acme"
        );
        for body in [&r.text, &r.html] {
            assert!(body.contains("042917"));
            assert!(body.contains("24 hours"));
            assert!(body.contains("ignore this email"));
        }
        assert!(r.text.contains(LINK));
        assert!(r.html.contains(&format!("href=\"{LINK_HTML}\"")));
        assert!(!r.html.contains(LINK), "a raw & in HTML");
    }

    #[test]
    fn password_reset_carries_link_validity_and_ignore_notice() {
        let r = DefaultTemplates.password_reset("Acme", LINK, 30);
        assert_eq!(r.subject, "Reset your Acme password");
        for body in [&r.text, &r.html] {
            assert!(body.contains("30 minutes"));
            assert!(body.contains("If you did not ask for this, ignore this email"));
        }
        assert!(r.text.contains(LINK));
        assert!(r.html.contains(&format!("href=\"{LINK_HTML}\"")));
    }

    #[test]
    fn registration_code_carries_code_and_validity() {
        let r = DefaultTemplates.registration_code("Acme", "123456", 10);
        assert_eq!(r.subject, "123456 is your Acme registration code");
        for body in [&r.text, &r.html] {
            assert!(body.contains("123456"));
            assert!(body.contains("10 minutes"));
        }
    }

    #[test]
    fn html_bodies_escape_everything_interpolated() {
        let app = "<script>alert('x')</script> & \"Co\"";
        let escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Co&quot;";
        let link = "https://app.example.com/r?t=1\"><script>";
        let rendered = [
            DefaultTemplates.verify_email(app, link, "<b>1</b>", 10),
            DefaultTemplates.password_reset(app, link, 10),
            DefaultTemplates.registration_code(app, "<b>1</b>", 10),
        ];
        for r in rendered {
            assert!(!r.html.contains("<script>"), "{}", r.html);
            assert!(!r.html.contains("<b>"), "{}", r.html);
            assert!(r.html.contains(escaped), "{}", r.html);
            // The plain text and the subject are not HTML: they stay as given.
            assert!(r.text.contains(app));
            assert!(r.subject.contains(app));
        }
    }

    #[test]
    fn a_host_overrides_one_email_and_keeps_the_others() {
        struct Custom;
        impl MailTemplates for Custom {
            fn password_reset(&self, app_name: &str, link: &str, _: i64) -> Rendered {
                Rendered {
                    subject: format!("{app_name}: new password"),
                    text: link.to_owned(),
                    html: escape_html(link),
                }
            }
        }
        let custom = Custom.password_reset("Acme", LINK, 30);
        assert_eq!(custom.subject, "Acme: new password");
        assert_eq!(custom.text, LINK);
        assert_eq!(
            Custom.verify_email("Acme", LINK, "000111", 15),
            DefaultTemplates.verify_email("Acme", LINK, "000111", 15)
        );
        assert_eq!(
            Custom.registration_code("Acme", "000111", 15),
            DefaultTemplates.registration_code("Acme", "000111", 15)
        );
    }
}
