//! A fake identity provider on 127.0.0.1: OpenID Connect (discovery,
//! JWKS, authorization, token, userinfo) and GitHub (authorize,
//! access_token, `/user`, `/user/emails`) on one server, signing real ES256
//! ID tokens. It checks what a real provider checks (client credentials,
//! redirect URI, single-use codes, the PKCE S256 verifier) and can be told
//! to misbehave, so the suite drives every success and failure path over
//! HTTP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authkit_core::token::{Algorithm, SigningKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The client the fake knows.
pub const CLIENT_ID: &str = "e2e-client";
/// Its secret.
pub const CLIENT_SECRET: &str = "e2e-client-secret-☃";

/// The person the next authorization signs in as.
#[derive(Debug, Clone)]
pub struct FakeUser {
    /// `sub` (OIDC) or the numeric id (GitHub, must parse as a number).
    pub subject: String,
    /// Email in the ID token / userinfo; `None` for none.
    pub email: Option<String>,
    /// `email_verified`.
    pub email_verified: bool,
    /// Display name.
    pub name: String,
    /// GitHub's `/user/emails`: (address, primary, verified).
    pub github_emails: Vec<(String, bool, bool)>,
}

impl FakeUser {
    /// A person with a verified email.
    pub fn verified(subject: &str, email: &str) -> Self {
        Self {
            subject: subject.to_owned(),
            email: Some(email.to_owned()),
            email_verified: true,
            name: "Ada Lovelace".to_owned(),
            github_emails: vec![(email.to_owned(), true, true)],
        }
    }

    /// A person whose email the provider has not verified.
    pub fn unverified(subject: &str, email: &str) -> Self {
        Self {
            email_verified: false,
            github_emails: vec![(email.to_owned(), true, false)],
            ..Self::verified(subject, email)
        }
    }
}

/// Ways the fake can misbehave (reset by [`FakeProvider::behave`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// ID token with another `iss`.
    WrongIssuer,
    /// ID token for another client.
    WrongAudience,
    /// ID token with another `nonce`.
    WrongNonce,
    /// ID token expired an hour ago.
    ExpiredIdToken,
    /// ID token signed by a key that is not in the JWKS.
    UnknownKey,
    /// The token endpoint answers 500.
    TokenServerError,
    /// The token endpoint answers this long after the client gave up.
    SlowTokenEndpoint,
    /// Discovery answers 503.
    DiscoveryDown,
    /// The stored PKCE challenge is replaced, so the client's (right)
    /// verifier no longer matches: proves the fake checks it.
    ChallengeMismatch,
}

/// One request to the token endpoint, as received.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// The PKCE verifier sent.
    pub code_verifier: Option<String>,
    /// Whether it matched the challenge of the authorization.
    pub verifier_matched: bool,
    /// How the client authenticated: `basic` or `post`.
    pub client_auth: String,
}

struct Issued {
    user: FakeUser,
    redirect_uri: String,
    challenge: String,
    challenge_method: String,
    nonce: Option<String>,
    used: bool,
}

struct Inner {
    key: SigningKey,
    stray_key: SigningKey,
    user: FakeUser,
    fault: Option<Fault>,
    codes: HashMap<String, Issued>,
    access_tokens: HashMap<String, FakeUser>,
    secrets: Vec<String>,
    token_requests: Vec<TokenRequest>,
    authorizations: Vec<HashMap<String, String>>,
    auth_methods: Vec<&'static str>,
}

/// A running fake provider. Cheap to clone.
#[derive(Clone)]
pub struct FakeProvider {
    /// `http://127.0.0.1:port`: the OIDC issuer, GitHub's web origin and
    /// API base at once.
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeProvider {
    /// Starts a fake on an ephemeral port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let fake = Self {
            base,
            inner: Arc::new(Mutex::new(Inner {
                key: SigningKey::generate(Algorithm::ES256).unwrap(),
                stray_key: SigningKey::generate(Algorithm::ES256).unwrap(),
                user: FakeUser::verified("1001", "ada@example.com"),
                fault: None,
                codes: HashMap::new(),
                access_tokens: HashMap::new(),
                secrets: Vec::new(),
                token_requests: Vec::new(),
                authorizations: Vec::new(),
                auth_methods: vec!["client_secret_basic", "client_secret_post"],
            })),
        };
        let server = fake.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let server = server.clone();
                tokio::spawn(async move { server.serve(socket).await });
            }
        });
        fake
    }

    /// The next authorizations sign in as `user`.
    pub fn sign_in_as(&self, user: FakeUser) {
        self.lock().user = user;
    }

    /// Misbehave in one way from now on (`None`: behave).
    pub fn fault(&self, fault: Option<Fault>) {
        self.lock().fault = fault;
    }

    /// Behave again.
    pub fn behave(&self) {
        self.fault(None);
    }

    /// Advertise only these token-endpoint client authentication methods.
    pub fn auth_methods(&self, methods: Vec<&'static str>) {
        self.lock().auth_methods = methods;
    }

    /// Every code, access token and ID token the fake handed out.
    pub fn secrets(&self) -> Vec<String> {
        self.lock().secrets.clone()
    }

    /// Every token-endpoint request so far.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.lock().token_requests.clone()
    }

    /// The query of every authorization request so far.
    pub fn authorizations(&self) -> Vec<HashMap<String, String>> {
        self.lock().authorizations.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    async fn serve(&self, mut socket: TcpStream) {
        let Some(request) = read_request(&mut socket).await else {
            return;
        };
        if request.path == "/token" && self.lock().fault == Some(Fault::SlowTokenEndpoint) {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        let (status, headers, body) = self.route(&request);
        let mut head = format!(
            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let _ = socket.write_all(head.as_bytes()).await;
        let _ = socket.write_all(body.as_bytes()).await;
        let _ = socket.shutdown().await;
    }

    fn route(&self, r: &Request) -> (u16, Vec<(&'static str, String)>, String) {
        let json_headers = || vec![("content-type", "application/json".to_owned())];
        let reply = |status: u16, body: Value| (status, json_headers(), body.to_string());
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/.well-known/openid-configuration") => {
                let inner = self.lock();
                if inner.fault == Some(Fault::DiscoveryDown) {
                    return reply(503, json!({"error": "temporarily_unavailable"}));
                }
                reply(
                    200,
                    json!({
                        "issuer": self.base,
                        "authorization_endpoint": format!("{}/authorize", self.base),
                        "token_endpoint": format!("{}/token", self.base),
                        "jwks_uri": format!("{}/jwks", self.base),
                        "userinfo_endpoint": format!("{}/userinfo", self.base),
                        "token_endpoint_auth_methods_supported": inner.auth_methods,
                        "code_challenge_methods_supported": ["S256"],
                    }),
                )
            }
            ("GET", "/jwks") => {
                let jwk = self.lock().key.public_jwk().unwrap();
                reply(200, json!({ "keys": [jwk] }))
            }
            ("GET", "/authorize" | "/login/oauth/authorize") => self.authorize(r),
            ("POST", "/token") => self.token(r, false),
            ("POST", "/login/oauth/access_token") => self.token(r, true),
            ("GET", "/userinfo") => match self.bearer_user(r) {
                Some(user) => reply(
                    200,
                    json!({"sub": user.subject, "email": user.email, "email_verified": user.email_verified}),
                ),
                None => reply(401, json!({"error": "invalid_token"})),
            },
            ("GET", "/user") => match self.bearer_user(r) {
                Some(user) => reply(
                    200,
                    json!({
                        "id": user.subject.parse::<u64>().unwrap(),
                        "login": "ada",
                        "name": user.name,
                        "avatar_url": "https://avatars.example.com/u/1",
                        "email": null,
                    }),
                ),
                None => reply(401, json!({"message": "Bad credentials"})),
            },
            ("GET", "/user/emails") => match self.bearer_user(r) {
                Some(user) => reply(
                    200,
                    Value::Array(
                        user.github_emails
                            .iter()
                            .map(|(email, primary, verified)| {
                                json!({"email": email, "primary": primary, "verified": verified, "visibility": null})
                            })
                            .collect(),
                    ),
                ),
                None => reply(401, json!({"message": "Bad credentials"})),
            },
            _ => reply(404, json!({"error": "not_found"})),
        }
    }

    /// Signs the current user in at once and sends the browser back.
    fn authorize(&self, r: &Request) -> (u16, Vec<(&'static str, String)>, String) {
        let q = &r.query;
        let mut inner = self.lock();
        inner.authorizations.push(q.clone());
        if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
            return (400, vec![], "unknown client".into());
        }
        let (Some(redirect_uri), Some(state)) = (q.get("redirect_uri"), q.get("state")) else {
            return (400, vec![], "missing redirect_uri or state".into());
        };
        let code = authkit_core::secret::token256();
        inner.secrets.push(code.clone());
        let issued = Issued {
            user: inner.user.clone(),
            redirect_uri: redirect_uri.clone(),
            challenge: q.get("code_challenge").cloned().unwrap_or_default(),
            challenge_method: q.get("code_challenge_method").cloned().unwrap_or_default(),
            nonce: q.get("nonce").cloned(),
            used: false,
        };
        inner.codes.insert(code.clone(), issued);
        let mut location = url::Url::parse(redirect_uri).unwrap();
        location
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", state);
        if r.path == "/authorize" {
            location.query_pairs_mut().append_pair("iss", &self.base);
        }
        (302, vec![("location", location.to_string())], String::new())
    }

    /// Redeems a code: checks the client, the code, the redirect URI and
    /// the PKCE verifier, then answers tokens (an ID token for OIDC).
    fn token(&self, r: &Request, github: bool) -> (u16, Vec<(&'static str, String)>, String) {
        let json_headers = vec![("content-type", "application/json".to_owned())];
        let error = |status: u16, code: &str| {
            (
                status,
                vec![("content-type", "application/json".to_owned())],
                json!({ "error": code }).to_string(),
            )
        };
        let form = &r.form;
        let mut inner = self.lock();
        if inner.fault == Some(Fault::TokenServerError) {
            return error(500, "server_error");
        }
        let client_auth = match r.basic_auth() {
            Some((id, secret)) if id == CLIENT_ID && secret == CLIENT_SECRET => "basic",
            Some(_) => return error(401, "invalid_client"),
            None if form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET) =>
            {
                "post"
            }
            None => return error(401, "invalid_client"),
        };
        if !github && form.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return error(400, "unsupported_grant_type");
        }
        let code = form.get("code").cloned().unwrap_or_default();
        let verifier = form.get("code_verifier").cloned();
        let fault = inner.fault;
        let Some(issued) = inner.codes.get_mut(&code) else {
            return error(400, "invalid_grant");
        };
        let challenge = if fault == Some(Fault::ChallengeMismatch) {
            "not-the-challenge".to_owned()
        } else {
            issued.challenge.clone()
        };
        let matched = issued.challenge_method == "S256"
            && verifier.as_deref().is_some_and(|v| {
                URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(v.as_bytes()))
                    == challenge
            });
        let used = std::mem::replace(&mut issued.used, true);
        let redirect_ok = form.get("redirect_uri") == Some(&issued.redirect_uri);
        let user = issued.user.clone();
        let nonce = issued.nonce.clone();
        inner.token_requests.push(TokenRequest {
            code_verifier: verifier,
            verifier_matched: matched,
            client_auth: client_auth.to_owned(),
        });
        if used || !redirect_ok || !matched {
            return if github {
                // GitHub reports a bad code with HTTP 200.
                (
                    200,
                    json_headers,
                    json!({"error": "bad_verification_code"}).to_string(),
                )
            } else {
                error(400, "invalid_grant")
            };
        }
        let access = authkit_core::secret::token256();
        inner.secrets.push(access.clone());
        inner.access_tokens.insert(access.clone(), user.clone());
        if github {
            let body = json!({"access_token": access, "token_type": "bearer", "scope": "read:user,user:email"});
            return (200, json_headers, body.to_string());
        }
        let now = chrono::Utc::now().timestamp();
        let mut claims = json!({
            "iss": self.base,
            "sub": user.subject,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 600,
            "nonce": nonce,
            "name": user.name,
            "picture": "https://avatars.example.com/p.png",
        });
        if let Some(email) = &user.email {
            claims["email"] = json!(email);
            claims["email_verified"] = json!(user.email_verified);
        }
        let mut key = &inner.key;
        match fault {
            Some(Fault::WrongIssuer) => claims["iss"] = json!("https://evil.example"),
            Some(Fault::WrongAudience) => claims["aud"] = json!("another-client"),
            Some(Fault::WrongNonce) => claims["nonce"] = json!("another-nonce"),
            Some(Fault::ExpiredIdToken) => {
                claims["iat"] = json!(now - 7200);
                claims["exp"] = json!(now - 3600);
            }
            Some(Fault::UnknownKey) => key = &inner.stray_key,
            _ => {}
        }
        let id_token = sign(key, &claims);
        inner.secrets.push(id_token.clone());
        let body = json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 3600,
            "id_token": id_token,
        });
        (200, json_headers, body.to_string())
    }

    fn bearer_user(&self, r: &Request) -> Option<FakeUser> {
        let token = r
            .header("authorization")?
            .strip_prefix("Bearer ")?
            .to_owned();
        self.lock().access_tokens.get(&token).cloned()
    }
}

/// An ES256 JWT of `claims` signed with `key`, `kid` in the header.
fn sign(key: &SigningKey, claims: &Value) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key.kid().to_owned());
    let pem = key.private_pem().unwrap();
    let encoding = EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &encoding).unwrap()
}

/// One HTTP request, read in full.
struct Request {
    method: String,
    path: String,
    query: HashMap<String, String>,
    headers: Vec<(String, String)>,
    form: HashMap<String, String>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// HTTP basic credentials, form-decoded (RFC 6749 2.3.1).
    fn basic_auth(&self) -> Option<(String, String)> {
        let encoded = self.header("authorization")?.strip_prefix("Basic ")?;
        let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        Some((decode(id)?, decode(secret)?))
    }
}

async fn read_request(socket: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let pairs = |raw: &[u8]| {
        url::form_urlencoded::parse(raw)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect::<HashMap<_, _>>()
    };
    Some(Request {
        method,
        path: path.to_owned(),
        query: pairs(query.as_bytes()),
        form: pairs(&buf[head_end..head_end + length]),
        headers,
    })
}
