//! SMS over real HTTP: the Twilio sender, pointed at a local fake of the
//! Messages API, carries the phone-verification code of an HTTP request.

use std::sync::Arc;

use authkit_core::sms::{TwilioConfig, TwilioSms};
use http::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::{Factory, Harness, Options};

const PHONE: &str = "+14155550188";

/// One request the fake received.
struct Received {
    request_line: String,
    authorization: String,
    form: Vec<(String, String)>,
}

/// A fake Twilio on 127.0.0.1 answering every request 201; returns its
/// base URL and the requests as they arrive.
async fn fake_twilio() -> (String, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = socket.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let header = |name: &str| {
                    head.split("\r\n")
                        .filter_map(|l| l.split_once(':'))
                        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.trim().to_owned())
                        .unwrap_or_default()
                };
                let length: usize = header("content-length").parse().unwrap_or(0);
                while buf.len() < head_end + length {
                    let n = socket.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "request cut short");
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
                let answer = "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
                socket.write_all(answer.as_bytes()).await.unwrap();
                let _ = socket.shutdown().await;
                let _ = tx.send(Received {
                    request_line: head.split("\r\n").next().unwrap_or_default().to_owned(),
                    authorization: header("authorization"),
                    form: body
                        .split('&')
                        .filter_map(|pair| pair.split_once('='))
                        .map(|(k, v)| (form_decode(k), form_decode(v)))
                        .collect(),
                });
            });
        }
    });
    (base, rx)
}

/// Decodes one `application/x-www-form-urlencoded` component.
fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Phone verification over HTTP with the code delivered through Twilio's
/// HTTP API (a local fake): path, basic auth and form fields as Twilio
/// expects, and the code in the SMS confirms the phone.
pub async fn sms_travels_through_twilio(factory: &Factory) {
    let (base, mut received) = fake_twilio().await;
    let twilio = TwilioSms::new(
        TwilioConfig::from_vars([
            (
                "AUTHKIT_TWILIO_ACCOUNT_SID",
                "AC00000000000000000000000000000001",
            ),
            ("AUTHKIT_TWILIO_AUTH_TOKEN", "e2e-token"),
            ("AUTHKIT_TWILIO_FROM", "+15005550006"),
            ("AUTHKIT_TWILIO_BASE_URL", base.as_str()),
        ])
        .unwrap(),
    )
    .unwrap();
    let options = Options {
        sms: Some(Arc::new(twilio)),
        ..Options::default()
    };
    let h = Harness::start(factory, options).await;
    let pair = h.signed_in("sms@example.com").await;
    let token = pair["access_token"].as_str().unwrap();

    let r = h
        .call(
            Method::POST,
            "/phone/verify/start",
            token,
            Some(json!({"phone": PHONE})),
        )
        .await;
    assert_eq!(r.status, 202);
    let sms = received.recv().await.expect("Twilio was called");
    assert_eq!(
        sms.request_line,
        "POST /2010-04-01/Accounts/AC00000000000000000000000000000001/Messages.json HTTP/1.1"
    );
    assert!(sms.authorization.starts_with("Basic "), "basic auth");
    let field = |name: &str| {
        sms.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(field("To"), PHONE);
    assert_eq!(field("From"), "+15005550006");
    let code: String = field("Body")
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_digit()))
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .expect("a 6-digit code in the SMS")
        .to_owned();

    let r = h
        .call(
            Method::POST,
            "/phone/verify/confirm",
            token,
            Some(json!({"code": code})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["user"]["phone_verified"], true);
}
