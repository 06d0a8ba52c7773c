//! The Twilio SMS sender against a local fake of the Messages API.
#![cfg(feature = "twilio")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

use authkit_core::AuthError;
use authkit_core::sms::{SmsMessage, SmsQueue, SmsSender, TwilioConfig, TwilioSms};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// One request as the fake saw it.
#[derive(Debug)]
struct Seen {
    request_line: String,
    headers: HashMap<String, String>,
    body: String,
}

/// Serves exactly one HTTP request on 127.0.0.1 with `status`; returns the
/// base URL and what was received.
async fn fake_twilio(status: u16) -> (String, oneshot::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            let n = socket.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed mid-request");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap().to_owned();
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers["content-length"].parse().unwrap();
        while buf.len() < head_end + length {
            let n = socket.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8(buf[head_end..head_end + length].to_vec()).unwrap();
        let answer = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
        );
        socket.write_all(answer.as_bytes()).await.unwrap();
        socket.shutdown().await.unwrap();
        tx.send(Seen {
            request_line,
            headers,
            body,
        })
        .unwrap();
    });
    (base, rx)
}

fn config(base_url: &str) -> TwilioConfig {
    TwilioConfig::from_vars([
        ("AUTHKIT_TWILIO_ACCOUNT_SID", "AC0123456789abcdef"),
        ("AUTHKIT_TWILIO_AUTH_TOKEN", "s3cret-token"),
        ("AUTHKIT_TWILIO_FROM", "+15005550006"),
        ("AUTHKIT_TWILIO_BASE_URL", base_url),
    ])
    .unwrap()
}

fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            let decode = |s: &str| {
                let s = s.replace('+', " ");
                let mut out = Vec::new();
                let bytes = s.as_bytes();
                let mut i = 0;
                while i < bytes.len() {
                    if bytes[i] == b'%' {
                        out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                        i += 3;
                    } else {
                        out.push(bytes[i]);
                        i += 1;
                    }
                }
                String::from_utf8(out).unwrap()
            };
            (decode(k), decode(v))
        })
        .collect()
}

#[tokio::test]
async fn posts_the_form_with_basic_auth_to_the_messages_path() {
    let (base, seen) = fake_twilio(201).await;
    let sender = TwilioSms::new(config(&base)).unwrap();
    sender
        .send(SmsMessage {
            to: "+14155550123".into(),
            body: "123456 is your Acme code & more ünïcode".into(),
        })
        .await
        .unwrap();
    let seen = seen.await.unwrap();
    assert_eq!(
        seen.request_line,
        "POST /2010-04-01/Accounts/AC0123456789abcdef/Messages.json HTTP/1.1"
    );
    assert_eq!(
        seen.headers["authorization"],
        format!(
            "Basic {}",
            STANDARD.encode("AC0123456789abcdef:s3cret-token")
        )
    );
    assert_eq!(
        seen.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    let fields = form(&seen.body);
    assert_eq!(fields.len(), 3);
    assert_eq!(fields["To"], "+14155550123");
    assert_eq!(fields["From"], "+15005550006");
    assert_eq!(fields["Body"], "123456 is your Acme code & more ünïcode");
}

#[tokio::test]
async fn an_error_status_is_an_internal_error_naming_only_the_status() {
    let (base, seen) = fake_twilio(400).await;
    let sender = TwilioSms::new(config(&base)).unwrap();
    let err = sender
        .send(SmsMessage {
            to: "+14155550123".into(),
            body: "123456".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::Internal(c) if c.message().is_some_and(|m| m.contains("400"))),
        "{err:?}"
    );
    assert!(!err.report().to_string().contains("123456"));
    assert!(!err.report().to_string().contains("s3cret"));
    seen.await.unwrap();
}

#[tokio::test]
async fn an_unreachable_endpoint_is_an_error() {
    // Bind then drop: nothing listens on that port any more.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let sender = TwilioSms::new(config(&format!("http://127.0.0.1:{port}"))).unwrap();
    let err = sender
        .send(SmsMessage {
            to: "+14155550123".into(),
            body: "x".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Internal(_)));
}

#[tokio::test]
async fn queued_sending_reaches_the_endpoint() {
    let (base, seen) = fake_twilio(201).await;
    let queue = SmsQueue::new(Arc::new(TwilioSms::new(config(&base)).unwrap()), 8);
    queue
        .send(SmsMessage {
            to: "+14155550123".into(),
            body: "queued".into(),
        })
        .await
        .unwrap();
    let seen = seen.await.unwrap();
    assert_eq!(form(&seen.body)["Body"], "queued");
    queue.flush().await.unwrap();
}
