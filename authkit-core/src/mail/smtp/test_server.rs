//! Test support: a tiny SMTP server on 127.0.0.1 (no TLS) that keeps what
//! it receives, and a reader for the MIME messages it keeps.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// One message as the server received it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Received {
    /// `AUTH PLAIN` user and password, if the client authenticated.
    pub auth: Option<(String, String)>,
    /// The address of `MAIL FROM:<…>`.
    pub mail_from: String,
    /// The addresses of every `RCPT TO:<…>`.
    pub rcpt_to: Vec<String>,
    /// The message after `DATA`, dot-unstuffed, CRLF line ends.
    pub data: String,
}

impl Received {
    /// The unfolded value of the first header `name` of the message.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        header(head_and_body(&self.data).0, name)
    }

    /// Every part of the multipart body: its `Content-Type` and its decoded
    /// text.
    pub(crate) fn parts(&self) -> Vec<(String, String)> {
        let (head, body) = head_and_body(&self.data);
        let Some(boundary) = header(head, "Content-Type").and_then(|t| boundary_of(&t)) else {
            return Vec::new();
        };
        let delimiter = format!("--{boundary}");
        body.split(delimiter.as_str())
            .skip(1) // the preamble
            .filter(|part| !part.starts_with("--")) // the closing delimiter
            .map(|part| {
                let (head, body) = head_and_body(part.trim_start_matches("\r\n"));
                let kind = header(head, "Content-Type").unwrap_or_default();
                let encoding = header(head, "Content-Transfer-Encoding").unwrap_or_default();
                (kind, decode(&encoding, body.trim_end_matches("\r\n")))
            })
            .collect()
    }
}

/// How the server treats `DATA`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Behaviour {
    /// Accepts every message.
    Accept,
    /// Answers `451` to the first `n` `DATA` commands, then accepts.
    RefuseFirst(usize),
}

/// What the server has seen so far.
#[derive(Debug, Default)]
struct Log {
    received: Vec<Received>,
    data_commands: usize,
}

/// A running test SMTP server; it stops with the test's runtime.
#[derive(Debug, Clone)]
pub(crate) struct SmtpSink {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    changed: Arc<Notify>,
}

impl SmtpSink {
    /// Listens on a free port of 127.0.0.1.
    pub(crate) async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = Self {
            addr: listener.local_addr().unwrap(),
            log: Arc::default(),
            changed: Arc::default(),
        };
        let server = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(server.clone().session(stream, behaviour));
            }
        });
        sink
    }

    /// `smtp://127.0.0.1:PORT?tls=none`.
    pub(crate) fn url(&self) -> String {
        format!("smtp://{}?tls=none", self.addr)
    }

    /// The URL with credentials (already percent-encoded by the caller).
    pub(crate) fn url_with_user(&self, userinfo: &str) -> String {
        format!("smtp://{userinfo}@{}?tls=none", self.addr)
    }

    /// Waits until `n` messages were accepted; returns them all.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Received> {
        loop {
            let changed = self.changed.notified();
            {
                let log = self.lock();
                if log.received.len() >= n {
                    return log.received.clone();
                }
            }
            changed.await;
        }
    }

    /// The messages accepted so far.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// How many `DATA` commands arrived (accepted or refused).
    pub(crate) fn data_commands(&self) -> usize {
        self.lock().data_commands
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One client connection, until `QUIT` or the client leaves.
    async fn session(self, stream: TcpStream, behaviour: Behaviour) {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        let mut current = Received::default();
        let _ = write.write_all(b"220 sink.test ESMTP\r\n").await;
        loop {
            let Some(line) = read_line(&mut lines).await else {
                return;
            };
            let upper = line.to_ascii_uppercase();
            let answer = if upper.starts_with("EHLO") {
                "250-sink.test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
            } else if upper.starts_with("HELO") {
                "250 sink.test\r\n"
            } else if upper.starts_with("AUTH PLAIN ") {
                current.auth = decode_auth_plain(&line["AUTH PLAIN ".len()..]);
                if current.auth.is_some() {
                    "235 2.7.0 authenticated\r\n"
                } else {
                    "501 5.5.2 bad AUTH PLAIN\r\n"
                }
            } else if upper.starts_with("MAIL FROM:") {
                current.mail_from = angle_address(&line);
                current.rcpt_to.clear();
                "250 2.1.0 ok\r\n"
            } else if upper.starts_with("RCPT TO:") {
                current.rcpt_to.push(angle_address(&line));
                "250 2.1.5 ok\r\n"
            } else if upper == "DATA" {
                let refused = {
                    let mut log = self.lock();
                    log.data_commands += 1;
                    matches!(behaviour, Behaviour::RefuseFirst(n) if log.data_commands <= n)
                };
                self.changed.notify_waiters();
                if refused {
                    "451 4.3.0 try again later\r\n"
                } else {
                    let _ = write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await;
                    let Some(data) = read_data(&mut lines).await else {
                        return;
                    };
                    current.data = data;
                    self.lock().received.push(current.clone());
                    self.changed.notify_waiters();
                    "250 2.0.0 queued\r\n"
                }
            } else if upper == "RSET" || upper == "NOOP" {
                "250 2.0.0 ok\r\n"
            } else if upper == "QUIT" {
                let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
                return;
            } else {
                "500 5.5.1 unknown command\r\n"
            };
            if write.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

/// One line without its line end; `None` at end of stream.
async fn read_line(lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<String> {
    let mut buf = Vec::new();
    match lines.read_until(b'\n', &mut buf).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(
            String::from_utf8_lossy(&buf)
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
        ),
    }
}

/// The lines after `354` up to the lone `.`, dot-unstuffed.
async fn read_data(lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<String> {
    let mut data = String::new();
    loop {
        let line = read_line(lines).await?;
        if line == "." {
            return Some(data);
        }
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
        data.push_str("\r\n");
    }
}

/// `MAIL FROM:<a@b> SIZE=…` → `a@b`.
fn angle_address(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line.rfind('>').unwrap_or(line.len());
    line.get(start..end).unwrap_or_default().to_owned()
}

/// `base64("\0user\0password")` → (user, password).
fn decode_auth_plain(encoded: &str) -> Option<(String, String)> {
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let mut fields = decoded.split('\0');
    let (_authzid, user, password) = (fields.next()?, fields.next()?, fields.next()?);
    Some((user.to_owned(), password.to_owned()))
}

/// Splits a MIME entity at its first empty line.
fn head_and_body(entity: &str) -> (&str, &str) {
    entity.split_once("\r\n\r\n").unwrap_or((entity, ""))
}

/// The unfolded value of header `name` in `head`.
fn header(head: &str, name: &str) -> Option<String> {
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.split("\r\n").find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

/// The `boundary` parameter of a `multipart/*` content type.
fn boundary_of(content_type: &str) -> Option<String> {
    let (_, rest) = content_type.split_once("boundary=")?;
    let boundary = rest.split(';').next()?.trim().trim_matches('"');
    Some(boundary.to_owned())
}

/// A part body decoded per its `Content-Transfer-Encoding`.
fn decode(encoding: &str, body: &str) -> String {
    match encoding.to_ascii_lowercase().as_str() {
        "quoted-printable" => String::from_utf8(
            quoted_printable::decode(body, quoted_printable::ParseMode::Robust).unwrap(),
        )
        .unwrap(),
        "base64" => {
            let compact: String = body.split_whitespace().collect();
            String::from_utf8(STANDARD.decode(compact).unwrap()).unwrap()
        }
        _ => body.to_owned(),
    }
}
