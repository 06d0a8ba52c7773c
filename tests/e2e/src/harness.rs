//! A running server for one case, a client, and the helpers cases share.

use std::sync::Arc;

use authkit_core::api::{ApiConfig, IntrospectionClient};
use authkit_core::clock::{Clock, ManualClock};
use authkit_core::email::Email;
use authkit_core::mail::MemoryMailer;
use authkit_core::mfa::{TotpParams, TotpSecret};
use authkit_core::rate_limit::{NoLimiter, RateLimiter};
use authkit_core::roles::RoleMap;
use authkit_core::sms::{MemorySms, SmsSender};
use authkit_core::social::OAuthConfig;
use authkit_core::store::{MemoryStore, Store};
use authkit_core::{Auth, AuthConfig};
use http::{HeaderMap, Method};
use serde_json::{Value, json};

use crate::Factory;
use crate::contract::Contract;

/// A password every policy accepts.
pub const PASSWORD: &str = "correct horse battery staple";

/// The introspection client of [`Options::default`]: its id.
pub const INTROSPECTION_CLIENT_ID: &str = "e2e-resource-server";
/// Its secret.
pub const INTROSPECTION_CLIENT_SECRET: &str = "e2e introspection secret, 40 charactersx";
/// `Authorization` of that client (HTTP Basic of `id:secret`).
pub const INTROSPECTION_BASIC: &str =
    "Basic ZTJlLXJlc291cmNlLXNlcnZlcjplMmUgaW50cm9zcGVjdGlvbiBzZWNyZXQsIDQwIGNoYXJhY3RlcnN4";

/// The API configuration of [`Options::default`]: the defaults, plus the
/// introspection client.
pub fn api_config() -> ApiConfig {
    ApiConfig {
        introspection_client: Some(IntrospectionClient::new(
            INTROSPECTION_CLIENT_ID,
            INTROSPECTION_CLIENT_SECRET,
        )),
        ..ApiConfig::default()
    }
}

/// How a case's service and API are configured.
pub struct Options {
    /// Service configuration.
    pub auth: AuthConfig,
    /// HTTP configuration.
    pub api: ApiConfig,
    /// Throttling (off by default).
    pub limiter: Arc<dyn RateLimiter>,
    /// Global roles.
    pub roles: RoleMap,
    /// Store (a fresh memory store by default).
    pub store: Store,
    /// SMS sender instead of the harness's in-memory one (e.g. Twilio
    /// pointed at a local fake).
    pub sms: Option<Arc<dyn SmsSender>>,
    /// Social-login providers (none by default).
    pub oauth: Option<OAuthConfig>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            auth: AuthConfig::default(),
            api: api_config(),
            limiter: Arc::new(NoLimiter),
            roles: RoleMap::default(),
            store: Store::new(MemoryStore::new()),
            sms: None,
            oauth: None,
        }
    }
}

/// One server and what the case needs to drive it.
pub struct Harness {
    /// `http://127.0.0.1:port`.
    pub root: String,
    /// The mount point URL (`root` + mount path).
    pub base: String,
    /// The service behind the server.
    pub auth: Auth,
    /// Every mail sent.
    pub mailer: Arc<MemoryMailer>,
    /// Every SMS sent.
    pub sms: Arc<MemorySms>,
    /// The service's clock.
    pub clock: Arc<ManualClock>,
    client: reqwest::Client,
    /// The server's OpenAPI document: every answer is checked against it.
    contract: Arc<Contract>,
}

/// An answer, read in full.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The problem `code`, after checking the body is a problem of the
    /// status answered.
    pub fn code(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "status {}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        let body = self.json();
        assert_eq!(body["status"], self.status);
        assert_eq!(body["type"], "about:blank");
        assert!(body["title"].is_string());
        body["code"].as_str().unwrap().to_owned()
    }

    /// Asserts the status and the problem code.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "{}",
            String::from_utf8_lossy(&self.body)
        );
    }

    /// One header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every `Set-Cookie` line.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

impl Harness {
    /// Builds the service and starts a server through `factory`.
    pub async fn start(factory: &Factory, options: Options) -> Self {
        let mailer = Arc::new(MemoryMailer::default());
        let sms = Arc::new(MemorySms::default());
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let mut builder = Auth::builder(options.auth, options.store);
        if let Some(oauth) = options.oauth {
            builder = builder.oauth(oauth);
        }
        let auth = builder
            .mailer(mailer.clone())
            .sms_sender(match options.sms {
                Some(sender) => sender,
                None => sms.clone(),
            })
            .clock(clock.clone())
            .rate_limiter(options.limiter)
            .roles(options.roles)
            .build()
            .await
            .unwrap();
        let mount = options.api.mount_path.clone();
        let addr = factory(auth.clone(), options.api).await;
        let root = format!("http://{addr}");
        let base = format!("{root}{mount}");
        let client = client();
        let doc = client
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let doc = serde_json::from_slice(&doc).expect("the OpenAPI document is JSON");
        Self {
            base,
            root,
            auth,
            mailer,
            sms,
            clock,
            client,
            contract: Arc::new(Contract::new(doc)),
        }
    }

    /// Starts a server with the default options.
    pub async fn default(factory: &Factory) -> Self {
        Self::start(factory, Options::default()).await
    }

    /// Sends a request to `url` (absolute) with raw headers and body. The
    /// answer is checked against the server's OpenAPI document (see
    /// [`Contract`]): an undocumented status, content type or body shape
    /// fails the test.
    pub async fn send_url(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let mut request = self.client.request(method.clone(), url).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let reply = Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        };
        if let Some((path, at_root)) = self.documented_path(url) {
            let checked = self.contract.check(
                method.as_str(),
                path,
                at_root,
                reply.status,
                reply.header("content-type"),
                &reply.body,
            );
            if let Err(mismatch) = checked {
                panic!("the answer does not match the OpenAPI document: {mismatch}");
            }
        }
        reply
    }

    /// The path of `url` as the document names it, and whether it is at
    /// the root: under the mount point, or a root-level `/.well-known/`
    /// route; `None` elsewhere (the host's own routes).
    fn documented_path<'a>(&self, url: &'a str) -> Option<(&'a str, bool)> {
        let (path, at_root) = match url.strip_prefix(self.base.as_str()) {
            Some(path) if path.starts_with('/') => (path, false),
            _ => (
                url.strip_prefix(self.root.as_str())
                    .filter(|p| p.starts_with("/.well-known/"))?,
                true,
            ),
        };
        Some((path.split(['?', '#']).next().unwrap_or(path), at_root))
    }

    /// Sends a request to `path` under the mount point.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        self.send_url(method, &format!("{}{path}", self.base), headers, body)
            .await
    }

    /// POSTs JSON.
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            body.to_string(),
        )
        .await
    }

    /// `POST /token/introspect {token}` as the introspection client of
    /// [`Options::default`].
    pub async fn introspect(&self, token: &str) -> Reply {
        self.send(
            Method::POST,
            "/token/introspect",
            &[
                ("authorization", INTROSPECTION_BASIC),
                ("content-type", "application/json"),
            ],
            json!({"token": token}).to_string(),
        )
        .await
    }

    /// A JSON request with a bearer token.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Reply {
        let bearer = format!("Bearer {token}");
        match body {
            Some(body) => {
                self.send(
                    method,
                    path,
                    &[
                        ("authorization", &bearer),
                        ("content-type", "application/json"),
                    ],
                    body.to_string(),
                )
                .await
            }
            None => {
                self.send(method, path, &[("authorization", &bearer)], "")
                    .await
            }
        }
    }

    /// GET with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    /// GET [`HOST_ROUTE`](crate::HOST_ROUTE) (at the root, outside the
    /// API) with a bearer token.
    pub async fn host_route(&self, token: &str) -> Reply {
        let bearer = format!("Bearer {token}");
        self.send_url(
            Method::GET,
            &format!("{}{}", self.root, crate::HOST_ROUTE),
            &[("authorization", &bearer)],
            "",
        )
        .await
    }

    /// Registers `email` and verifies it through the emailed link.
    pub async fn verified_user(&self, email: &str) -> Value {
        let r = self
            .post("/register", json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let token = self.link_token(email);
        let r = self.post("/email/verify", json!({"token": token})).await;
        assert_eq!(r.status, 200);
        r.json()["user"].clone()
    }

    /// Logs in and answers the token pair.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        let r = self
            .post("/token", json!({"email": email, "password": password}))
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()
    }

    /// A verified, logged-in account: its token pair.
    pub async fn signed_in(&self, email: &str) -> Value {
        self.verified_user(email).await;
        self.login(email, PASSWORD).await
    }

    /// Marks the account of `email` as having to change its password (as
    /// an administrator's forced change does), through the store.
    pub async fn force_password_change(&self, email: &str) {
        let users = &self.auth.store().users;
        let email = Email::parse(email).unwrap();
        let user = users.user_by_email(&email).await.unwrap().unwrap();
        let forced = authkit_core::store::UserUpdate::MustChangePassword(true);
        users
            .update_user(user.id, &forced, chrono::Utc::now())
            .await
            .unwrap();
    }

    /// The `?token=` of the newest mail to `to`.
    pub fn link_token(&self, to: &str) -> String {
        let text = self.last_mail(to);
        let start = text.find("?token=").expect("a link with a token") + "?token=".len();
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    /// The 6-digit code of the newest mail to `to`.
    pub fn mail_code(&self, to: &str) -> String {
        six_digits(&self.last_mail(to))
    }

    /// The 6-digit code of the newest SMS to `to`.
    pub fn sms_code(&self, to: &str) -> String {
        let body = self
            .sms
            .last_to(to)
            .unwrap_or_else(|| panic!("no SMS to {to}"))
            .body;
        six_digits(&body)
    }

    /// The current TOTP code (default parameters: SHA-1, 6 digits, 30 s)
    /// of the base32 `secret` answered by a TOTP setup, at the service's
    /// clock.
    pub fn totp_code(&self, secret: &str) -> String {
        let bytes = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, secret)
            .expect("a base32 secret");
        let params = TotpParams::default();
        let step = params.step_at(self.clock.now().timestamp());
        TotpSecret::from_bytes(bytes)
            .code_at_step(params, step)
            .unwrap()
    }

    fn last_mail(&self, to: &str) -> String {
        self.mailer
            .last_to(to)
            .unwrap_or_else(|| panic!("no mail to {to}"))
            .text
    }
}

/// A plain-HTTP client. When reqwest is built in its no-provider rustls
/// mode (feature unification with authkit-core's `twilio`), building any
/// client needs a process-wide crypto provider: install ring once (an
/// error only means one is installed already).
fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The first 6-digit word of `text`.
fn six_digits(text: &str) -> String {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_digit()))
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .expect("a 6-digit code")
        .to_owned()
}
