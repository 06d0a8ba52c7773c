//! Social login over HTTP against the fake provider: Google (OIDC),
//! GitHub and a generic OIDC issuer, the linking rules, the state and ID
//! token checks, provider failures and open-redirect attempts.

use authkit_core::email::Email;
use authkit_core::social::OAuthConfig;
use authkit_core::{AuthConfig, api::ApiConfig};
use http::Method;
use serde_json::{Value, json};

use crate::fake_provider::{CLIENT_ID, CLIENT_SECRET, FakeProvider, FakeUser, Fault};
use crate::{Factory, Harness, Options, PASSWORD, Reply};

/// The binding cookie's name.
const COOKIE: &str = "__Host-authkit_oauth";

/// Google, GitHub and `corp` (generic OIDC), all served by `fake`.
fn oauth_config(fake: &FakeProvider) -> OAuthConfig {
    let base = fake.base.as_str();
    OAuthConfig::from_vars([
        ("AUTHKIT_GOOGLE_CLIENT_ID", CLIENT_ID),
        ("AUTHKIT_GOOGLE_CLIENT_SECRET", CLIENT_SECRET),
        ("AUTHKIT_GOOGLE_ISSUER", base),
        ("AUTHKIT_GITHUB_CLIENT_ID", CLIENT_ID),
        ("AUTHKIT_GITHUB_CLIENT_SECRET", CLIENT_SECRET),
        ("AUTHKIT_GITHUB_AUTHORIZE_URL", base),
        ("AUTHKIT_GITHUB_API_URL", base),
        ("AUTHKIT_OIDC_CORP_ISSUER", base),
        ("AUTHKIT_OIDC_CORP_CLIENT_ID", CLIENT_ID),
        ("AUTHKIT_OIDC_CORP_CLIENT_SECRET", CLIENT_SECRET),
        ("AUTHKIT_OAUTH_HTTP_TIMEOUT", "1s"),
        ("AUTHKIT_OAUTH_REDIRECT_ORIGINS", "https://app.example.com"),
    ])
    .unwrap()
}

/// A server with the three providers, and the fake behind them.
async fn serve(factory: &Factory, tweak: impl FnOnce(&mut Options)) -> (Harness, FakeProvider) {
    let fake = FakeProvider::start().await;
    let mut options = Options {
        oauth: Some(oauth_config(&fake)),
        ..Options::default()
    };
    tweak(&mut options);
    (Harness::start(factory, options).await, fake)
}

/// A browser: follows no redirect by itself, keeps the binding cookie.
struct Browser<'h> {
    h: &'h Harness,
    client: reqwest::Client,
    binding: Option<String>,
}

impl<'h> Browser<'h> {
    fn new(h: &'h Harness) -> Self {
        Self {
            h,
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            binding: None,
        }
    }

    async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.client.get(url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.unwrap();
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    /// `GET /oauth/{provider}/start`; keeps the binding cookie.
    async fn start(&mut self, provider: &str, redirect_to: Option<&str>) -> Reply {
        let mut url = format!("{}/oauth/{provider}/start", self.h.base);
        if let Some(target) = redirect_to {
            let encoded: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
            url = format!("{url}?redirect_to={encoded}");
        }
        let r = self.get(&url, &[]).await;
        if let Some(value) = binding_of(&r) {
            self.binding = Some(value);
        }
        r
    }

    /// Follows an authorization URL to the fake, which signs in at once;
    /// answers the callback's query string.
    async fn authorize(&self, authorization_url: &str) -> String {
        let r = self.get(authorization_url, &[]).await;
        assert_eq!(r.status, 302, "{}", String::from_utf8_lossy(&r.body));
        let location = url::Url::parse(r.header("location").unwrap()).unwrap();
        location.query().unwrap_or_default().to_owned()
    }

    /// `GET /oauth/{provider}/callback?{query}` with the binding cookie.
    async fn callback(&self, provider: &str, query: &str) -> Reply {
        let url = format!("{}/oauth/{provider}/callback?{query}", self.h.base);
        match &self.binding {
            Some(binding) => {
                let cookie = format!("{COOKIE}={binding}");
                self.get(&url, &[("cookie", &cookie)]).await
            }
            None => self.get(&url, &[]).await,
        }
    }

    /// A whole sign-in; answers the callback's reply.
    async fn sign_in(&mut self, provider: &str) -> Reply {
        let r = self.start(provider, None).await;
        assert_eq!(r.status, 302, "{}", String::from_utf8_lossy(&r.body));
        let query = self.authorize(r.header("location").unwrap()).await;
        self.callback(provider, &query).await
    }
}

/// The binding cookie's value set by a reply, if any.
fn binding_of(r: &Reply) -> Option<String> {
    r.set_cookies()
        .iter()
        .filter_map(|c| c.strip_prefix(&format!("{COOKIE}=")))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
        .find(|v| !v.is_empty())
}

async fn user_exists(h: &Harness, email: &str) -> bool {
    h.auth
        .store()
        .users
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .is_some()
}

async fn events(h: &Harness, token: &str) -> Vec<String> {
    let r = h.get("/me/audit", token).await;
    r.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

fn access(r: &Reply) -> String {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["access_token"].as_str().unwrap().to_owned()
}

/// Google: a first sign-in creates a verified account; the next finds it
/// by (provider, subject) even after the provider's email changed. PKCE
/// S256 is sent and checked, the OIDC nonce is sent, and the callback
/// answers with `Referrer-Policy: no-referrer` and clears the cookie.
pub async fn oauth_google_new_and_returning_user(factory: &Factory) {
    let (h, fake) = serve(factory, |_| {}).await;
    fake.sign_in_as(FakeUser::verified("g-1", "new.person@example.com"));
    let mut browser = Browser::new(&h);
    let start = browser.start("google", None).await;
    assert_eq!(start.status, 302);
    assert_eq!(start.header("referrer-policy"), Some("no-referrer"));
    let cookie = start
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with(COOKIE))
        .unwrap();
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=600",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let query = browser.authorize(start.header("location").unwrap()).await;
    let authorization = fake.authorizations().pop().unwrap();
    assert_eq!(authorization["code_challenge_method"], "S256");
    assert_eq!(authorization["response_type"], "code");
    assert_eq!(authorization["scope"], "openid email profile");
    assert_eq!(
        authorization["redirect_uri"],
        "http://localhost:3000/auth/oauth/google/callback"
    );
    assert!(authorization["nonce"].len() >= 32);
    let r = browser.callback("google", &query).await;
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert!(
        r.set_cookies()
            .iter()
            .any(|c| c.starts_with(&format!("{COOKIE}=;")) && c.contains("Max-Age=0"))
    );
    let token = access(&r);
    let requests = fake.token_requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].verifier_matched, "the PKCE verifier matched");
    assert_eq!(requests[0].code_verifier.as_ref().unwrap().len(), 43);
    assert_eq!(requests[0].client_auth, "basic");

    let me = h.get("/me", &token).await.json();
    assert_eq!(me["email"], "new.person@example.com");
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["display_name"], "Ada Lovelace");
    let events = events(&h, &token).await;
    for expected in [
        "user_registered",
        "identity_linked",
        "social_sign_in",
        "login_succeeded",
    ] {
        assert!(events.contains(&expected.to_owned()), "{events:?}");
    }

    // Returning: same subject, new email at the provider: same account.
    fake.sign_in_as(FakeUser::verified("g-1", "renamed@example.com"));
    let token2 = access(&Browser::new(&h).sign_in("google").await);
    let me2 = h.get("/me", &token2).await.json();
    assert_eq!(me2["id"], me["id"]);
    assert!(!user_exists(&h, "renamed@example.com").await);
    let second = fake.token_requests();
    assert_ne!(
        second[0].code_verifier, second[1].code_verifier,
        "a fresh verifier per sign-in"
    );

    // Export lists the identity.
    let export = h.get("/me/export", &token2).await.json();
    assert_eq!(export["identities"][0]["provider"], "google");
    assert_eq!(export["identities"][0]["subject"], "g-1");
}

/// Linking by email: only when the provider AND the account verified it.
pub async fn oauth_linking_rules(factory: &Factory) {
    let (h, fake) = serve(factory, |_| {}).await;
    // Both verified: linked to the existing account.
    let user = h.verified_user("both@example.com").await;
    fake.sign_in_as(FakeUser::verified("s-both", "both@example.com"));
    let token = access(&Browser::new(&h).sign_in("google").await);
    let me = h.get("/me", &token).await.json();
    assert_eq!(me["id"], user["id"]);
    let ids = h.get("/me/identities", &token).await.json();
    assert_eq!(ids["identities"][0]["subject"], "s-both");
    assert_eq!(ids["has_password"], true);

    // Account unverified, provider verified: refused, nothing linked.
    let r = h
        .post(
            "/register",
            json!({"email": "local.unverified@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201);
    fake.sign_in_as(FakeUser::verified(
        "s-local-unverified",
        "local.unverified@example.com",
    ));
    Browser::new(&h)
        .sign_in("google")
        .await
        .assert_problem(409, "account_exists_unverified");
    assert!(
        h.auth
            .store()
            .identities
            .identity("google", "s-local-unverified")
            .await
            .unwrap()
            .is_none()
    );

    // Account verified, provider unverified: refused too (Google and
    // GitHub alike).
    h.verified_user("provider.unverified@example.com").await;
    fake.sign_in_as(FakeUser::unverified(
        "2002",
        "provider.unverified@example.com",
    ));
    for provider in ["google", "github"] {
        Browser::new(&h)
            .sign_in(provider)
            .await
            .assert_problem(409, "account_exists_unverified");
    }
    let records = h
        .auth
        .store()
        .audit
        .audit_records(&authkit_core::audit::AuditQuery {
            event: Some("identity_link_refused".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].data["reason"], "account_exists_unverified");

    // A new person with an unverified email: an unverified account, which
    // must verify first (a verification mail is sent).
    fake.sign_in_as(FakeUser::unverified(
        "s-new-unverified",
        "fresh@example.com",
    ));
    Browser::new(&h)
        .sign_in("google")
        .await
        .assert_problem(403, "email_not_verified");
    assert!(user_exists(&h, "fresh@example.com").await);
    let link = h.link_token("fresh@example.com");
    assert_eq!(
        h.post("/email/verify", json!({"token": link})).await.status,
        200
    );
    access(&Browser::new(&h).sign_in("google").await);

    // No email at all: nothing can be created or matched.
    let mut nobody = FakeUser::verified("s-no-email", "x@example.com");
    nobody.email = None;
    fake.sign_in_as(nobody);
    Browser::new(&h)
        .sign_in("google")
        .await
        .assert_problem(403, "oauth_email_missing");
}

/// With auto-registration off, a new person is refused and nothing is
/// created; an existing, linkable account still signs in.
pub async fn oauth_respects_closed_registration(factory: &Factory) {
    let (h, fake) = serve(factory, |o| {
        o.auth = AuthConfig::builder()
            .account(|a| a.allow_auto_registration(false))
            .build()
            .unwrap();
    })
    .await;
    fake.sign_in_as(FakeUser::verified("closed-1", "stranger@example.com"));
    Browser::new(&h)
        .sign_in("google")
        .await
        .assert_problem(403, "registration_closed");
    assert!(!user_exists(&h, "stranger@example.com").await);
}

/// The state: missing, forged, replayed, expired, from another browser,
/// for another provider: 400 `oauth_state_invalid`, nothing created. Of
/// many concurrent callbacks with one state, exactly one signs in.
pub async fn oauth_state_is_signed_single_use_and_bound(factory: &Factory) {
    let (h, fake) = serve(factory, |_| {}).await;
    fake.sign_in_as(FakeUser::verified("st-1", "state@example.com"));
    let mut browser = Browser::new(&h);
    let start = browser.start("google", None).await;
    let query = browser.authorize(start.header("location").unwrap()).await;
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| params.iter().find(|(k, _)| k == name).unwrap().1.clone();
    let (code, state) = (get("code"), get("state"));
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();

    // Missing, empty, tampered, truncated, foreign.
    let mut tampered = state.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [
        format!("code={}", enc(&code)),
        format!("code={}&state=", enc(&code)),
        format!("code={}&state={}", enc(&code), enc(&tampered)),
        format!("code={}&state={}", enc(&code), enc(&state[..20])),
        format!("code={}&state=%F0%9F%98%80.{}", enc(&code), "x".repeat(300)),
    ] {
        browser
            .callback("google", &bad)
            .await
            .assert_problem(400, "oauth_state_invalid");
    }
    // Repeated parameters are refused outright.
    browser
        .callback("google", &format!("{query}&state={}", enc(&state)))
        .await
        .assert_problem(400, "malformed_request");
    // The state of one provider is refused by another.
    browser
        .callback("corp", &query)
        .await
        .assert_problem(400, "oauth_state_invalid");
    // Another browser (no cookie, or another cookie) cannot use it, and
    // that spends it.
    let mut other = Browser::new(&h);
    other
        .callback("google", &query)
        .await
        .assert_problem(400, "oauth_state_invalid");
    other.binding = Some("x".repeat(43));
    other
        .callback("google", &query)
        .await
        .assert_problem(400, "oauth_state_invalid");
    browser
        .callback("google", &query)
        .await
        .assert_problem(400, "oauth_state_invalid");
    assert!(!user_exists(&h, "state@example.com").await);
    assert!(fake.token_requests().is_empty(), "no code was redeemed");

    // Replayed after a success.
    let mut browser = Browser::new(&h);
    let start = browser.start("google", None).await;
    let query = browser.authorize(start.header("location").unwrap()).await;
    access(&browser.callback("google", &query).await);
    browser
        .callback("google", &query)
        .await
        .assert_problem(400, "oauth_state_invalid");

    // A wrong RFC 9207 `iss` is a mix-up: refused.
    let mut browser = Browser::new(&h);
    let start = browser.start("google", None).await;
    let query = browser.authorize(start.header("location").unwrap()).await;
    let mixed = query.replace(
        &format!("iss={}", enc(&fake.base)),
        "iss=https%3A%2F%2Fevil.example",
    );
    browser
        .callback("google", &mixed)
        .await
        .assert_problem(400, "oauth_state_invalid");

    // Twenty concurrent callbacks with one state: one success.
    let mut browser = Browser::new(&h);
    let start = browser.start("google", None).await;
    let query = browser.authorize(start.header("location").unwrap()).await;
    let url = format!("{}/oauth/google/callback?{query}", h.base);
    let cookie = format!("{COOKIE}={}", browser.binding.clone().unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (url, cookie) = (url.clone(), cookie.clone());
        let client = browser.client.clone();
        tasks.spawn(async move {
            let r = client
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        });
    }
    let statuses = tasks.join_all().await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 400),
        "{statuses:?}"
    );

    // Expired: past the state's ten minutes (last: the clock moves).
    let mut browser = Browser::new(&h);
    let start = browser.start("google", None).await;
    let query = browser.authorize(start.header("location").unwrap()).await;
    h.clock.advance(chrono::Duration::minutes(11));
    browser
        .callback("google", &query)
        .await
        .assert_problem(400, "oauth_state_invalid");
}

/// ID tokens with a wrong `iss`, `aud` or `nonce`, expired, or signed by
/// an unknown key: 401 `oauth_token_invalid`, nothing created.
pub async fn oauth_id_tokens_are_verified(factory: &Factory) {
    let (h, fake) = serve(factory, |_| {}).await;
    for (i, fault) in [
        Fault::WrongIssuer,
        Fault::WrongAudience,
        Fault::WrongNonce,
        Fault::ExpiredIdToken,
        Fault::UnknownKey,
    ]
    .into_iter()
    .enumerate()
    {
        let email = format!("idt{i}@example.com");
        fake.sign_in_as(FakeUser::verified(&format!("idt-{i}"), &email));
        fake.fault(Some(fault));
        Browser::new(&h)
            .sign_in("google")
            .await
            .assert_problem(401, "oauth_token_invalid");
        assert!(!user_exists(&h, &email).await, "{fault:?}");
    }
    fake.behave();
    access(&Browser::new(&h).sign_in("google").await);
}

/// Provider failures: an error on the callback, a failing, slow or
/// refusing token endpoint (a PKCE verifier that does not match),
/// discovery down. Each is a clear error and creates nothing.
pub async fn oauth_provider_failures_create_nothing(factory: &Factory) {
    let (h, fake) = serve(factory, |_| {}).await;
    fake.sign_in_as(FakeUser::verified("f-1", "failure@example.com"));

    // The user declined at the provider.
    let mut browser = Browser::new(&h);
    let start = browser.start("google", None).await;
    let query = browser.authorize(start.header("location").unwrap()).await;
    let state = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let state: String = url::form_urlencoded::byte_serialize(state.as_bytes()).collect();
    browser
        .callback("google", &format!("error=access_denied&state={state}"))
        .await
        .assert_problem(403, "oauth_denied");

    for fault in [
        Fault::TokenServerError,
        Fault::SlowTokenEndpoint,
        Fault::ChallengeMismatch,
    ] {
        fake.fault(Some(fault));
        Browser::new(&h)
            .sign_in("google")
            .await
            .assert_problem(502, "oauth_provider_error");
    }
    // GitHub's refusal comes as HTTP 200 with an `error`.
    fake.fault(Some(Fault::ChallengeMismatch));
    Browser::new(&h)
        .sign_in("github")
        .await
        .assert_problem(502, "oauth_provider_error");
    let requests = fake.token_requests();
    assert!(
        requests.iter().any(|r| !r.verifier_matched),
        "the fake saw a verifier that did not match and refused it"
    );
    assert!(!user_exists(&h, "failure@example.com").await);

    // Discovery down: the start itself fails (a fresh server, so nothing
    // is cached).
    let (h2, fake2) = serve(factory, |_| {}).await;
    fake2.fault(Some(Fault::DiscoveryDown));
    Browser::new(&h2)
        .start("corp", None)
        .await
        .assert_problem(502, "oauth_provider_error");
    fake2.behave();
    assert_eq!(Browser::new(&h2).start("corp", None).await.status, 302);

    // Unknown providers are not found.
    Browser::new(&h)
        .start("myspace", None)
        .await
        .assert_problem(404, "not_found");
}

/// `redirect_to` tricks are refused at the start; allowed targets are
/// where cookie mode lands, with the session cookies set.
pub async fn oauth_redirects_are_allow_listed(factory: &Factory) {
    let (h, fake) = serve(factory, |o| {
        o.api = ApiConfig {
            cookie_mode: true,
            csrf_allowed_origins: vec!["https://app.example.com".into()],
            ..ApiConfig::default()
        };
    })
    .await;
    for bad in [
        "//evil.example",
        "/\\evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "https://app.example.com.evil.example/",
        "https://app.example.com@evil.example/",
        "http://app.example.com/",
        "evil.example",
    ] {
        let r = Browser::new(&h).start("google", Some(bad)).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(
            r.json()["errors"][0]["code"],
            "redirect_not_allowed",
            "{bad}"
        );
        assert!(binding_of(&r).is_none());
    }
    fake.sign_in_as(FakeUser::verified("rd-1", "redirect@example.com"));
    let mut browser = Browser::new(&h);
    let start = browser
        .start("google", Some("https://app.example.com/welcome?x=1"))
        .await;
    assert_eq!(start.status, 302);
    let query = browser.authorize(start.header("location").unwrap()).await;
    let r = browser.callback("google", &query).await;
    assert_eq!(r.status, 302, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("location"),
        Some("https://app.example.com/welcome?x=1")
    );
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    let cookies = r.set_cookies();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Host-authkit_access="))
    );
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Host-authkit_refresh="))
    );

    // A path lands on the public URL.
    let mut browser = Browser::new(&h);
    let start = browser.start("google", Some("/dashboard")).await;
    let query = browser.authorize(start.header("location").unwrap()).await;
    let r = browser.callback("google", &query).await;
    assert_eq!(
        r.header("location"),
        Some("http://localhost:3000/dashboard")
    );
}

/// GitHub: the primary email, with GitHub's own verification of it.
pub async fn oauth_github_uses_the_primary_verified_email(factory: &Factory) {
    let (h, fake) = serve(factory, |_| {}).await;
    let mut user = FakeUser::verified("3003", "primary@example.com");
    user.github_emails = vec![
        ("secondary@example.com".into(), false, true),
        ("primary@example.com".into(), true, true),
    ];
    fake.sign_in_as(user);
    let token = access(&Browser::new(&h).sign_in("github").await);
    let me = h.get("/me", &token).await.json();
    assert_eq!(me["email"], "primary@example.com");
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["avatar_url"], "https://avatars.example.com/u/1");
    assert!(!user_exists(&h, "secondary@example.com").await);
    let requests = fake.token_requests();
    assert!(requests[0].verifier_matched);
    assert_eq!(requests[0].client_auth, "post");
    let authorization = fake.authorizations().pop().unwrap();
    assert_eq!(authorization["scope"], "read:user user:email");
    assert_eq!(authorization["code_challenge_method"], "S256");

    // An unverified primary never links, even next to a verified one.
    h.verified_user("taken@example.com").await;
    let mut user = FakeUser::verified("3004", "taken@example.com");
    user.github_emails = vec![
        ("other@example.com".into(), false, true),
        ("taken@example.com".into(), true, false),
    ];
    fake.sign_in_as(user);
    Browser::new(&h)
        .sign_in("github")
        .await
        .assert_problem(409, "account_exists_unverified");

    // No primary email: nothing to go on.
    let mut user = FakeUser::verified("3005", "none@example.com");
    user.github_emails = vec![("none@example.com".into(), false, true)];
    fake.sign_in_as(user);
    Browser::new(&h)
        .sign_in("github")
        .await
        .assert_problem(403, "oauth_email_missing");
}

/// A generic OIDC provider found by discovery, authenticating with
/// `client_secret_post` when that is all the issuer offers.
pub async fn oauth_generic_oidc_provider(factory: &Factory) {
    let (h, fake) = serve(factory, |_| {}).await;
    fake.auth_methods(vec!["client_secret_post"]);
    fake.sign_in_as(FakeUser::verified("corp-7", "employee@example.com"));
    let token = access(&Browser::new(&h).sign_in("corp").await);
    let ids = h.get("/me/identities", &token).await.json();
    assert_eq!(ids["identities"][0]["provider"], "corp");
    assert_eq!(ids["has_password"], false);
    assert_eq!(fake.token_requests()[0].client_auth, "post");
}

/// Linking from the account, unlinking, the last sign-in method, and a
/// social-only account setting a password through reset.
pub async fn oauth_identities_are_linked_and_unlinked(factory: &Factory) {
    let (h, fake) = serve(factory, |_| {}).await;
    let pair = h.signed_in("owner@example.com").await;
    let token = pair["access_token"].as_str().unwrap();

    // Link GitHub (whatever its email) from the account.
    fake.sign_in_as(FakeUser::unverified("4004", "elsewhere@example.com"));
    let r = h
        .call(
            Method::POST,
            "/me/identities",
            token,
            Some(json!({"provider": "github"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let mut browser = Browser::new(&h);
    browser.binding = binding_of(&r);
    assert!(browser.binding.is_some());
    let url = r.json()["authorization_url"].as_str().unwrap().to_owned();
    let query = browser.authorize(&url).await;
    let r = browser.callback("github", &query).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["identity"]["subject"], "4004");
    // The GitHub identity now signs in as the owner.
    let me = h
        .get("/me", &access(&Browser::new(&h).sign_in("github").await))
        .await
        .json();
    assert_eq!(me["email"], "owner@example.com");
    let ids = h.get("/me/identities", token).await.json();
    assert_eq!(ids["identities"].as_array().unwrap().len(), 1);
    assert!(
        events(&h, token)
            .await
            .contains(&"identity_linked".to_owned())
    );

    // Linking an identity owned by someone else, or a second of one
    // provider, is refused.
    fake.sign_in_as(FakeUser::verified("g-other", "other.owner@example.com"));
    access(&Browser::new(&h).sign_in("google").await);
    let link = |provider: &'static str| {
        let h = &h;
        async move {
            let r = h
                .call(
                    Method::POST,
                    "/me/identities",
                    token,
                    Some(json!({"provider": provider})),
                )
                .await;
            let mut browser = Browser::new(h);
            browser.binding = binding_of(&r);
            let url = r.json()["authorization_url"].as_str().unwrap().to_owned();
            let query = browser.authorize(&url).await;
            browser.callback(provider, &query).await
        }
    };
    link("google").await.assert_problem(409, "identity_taken");
    fake.sign_in_as(FakeUser::verified("4005", "second@example.com"));
    link("github").await.assert_problem(409, "identity_taken");
    // Bad input on the link route.
    h.call(
        Method::POST,
        "/me/identities",
        token,
        Some(json!({"provider": 7})),
    )
    .await
    .assert_problem(422, "validation_failed");
    h.call(
        Method::POST,
        "/me/identities",
        token,
        Some(json!({"provider": "nope"})),
    )
    .await
    .assert_problem(404, "not_found");
    h.send(Method::GET, "/me/identities", &[], "")
        .await
        .assert_problem(401, "token_invalid");

    // Unlink: the owner has a password (which it confirms), so the only
    // identity may go.
    let unlink = |token: String, provider: &'static str| {
        let h = &h;
        async move {
            h.call(
                Method::DELETE,
                "/me/identities",
                &token,
                Some(json!({ "provider": provider, "password": PASSWORD })),
            )
            .await
        }
    };
    assert_eq!(unlink(token.to_owned(), "github").await.status, 204);
    unlink(token.to_owned(), "github")
        .await
        .assert_problem(404, "not_found");
    assert!(
        events(&h, token)
            .await
            .contains(&"identity_unlinked".to_owned())
    );

    // A social-only account cannot drop its last way in...
    fake.sign_in_as(FakeUser::verified("g-solo", "solo@example.com"));
    let solo = access(&Browser::new(&h).sign_in("google").await);
    unlink(solo.clone(), "google")
        .await
        .assert_problem(409, "last_sign_in_method");
    // ...until it sets a password through reset.
    assert_eq!(
        h.post("/password/reset", json!({"email": "solo@example.com"}))
            .await
            .status,
        202
    );
    h.auth.background_idle().await;
    let reset = h.link_token("solo@example.com");
    let r = h
        .post(
            "/password/reset/confirm",
            json!({"token": reset, "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let solo = h.login("solo@example.com", PASSWORD).await;
    let solo = solo["access_token"].as_str().unwrap().to_owned();
    let ids: Value = h.get("/me/identities", &solo).await.json();
    assert_eq!(ids["has_password"], true);
    assert_eq!(unlink(solo, "google").await.status, 204);
}

/// The sign-in, linking and unlinking rules on SQLite, PostgreSQL and
/// MySQL (each when available): identities persist in the SQL tables.
pub async fn oauth_on_every_sql_store(factory: &Factory) {
    for (backend, store) in crate::sql_stores::stores().await {
        let (h, fake) = serve(factory, |o| o.store = store).await;
        // New account, then the returning identity.
        fake.sign_in_as(FakeUser::verified("sql-1", "sql.new@example.com"));
        let first = h
            .get("/me", &access(&Browser::new(&h).sign_in("google").await))
            .await
            .json();
        let again = h
            .get("/me", &access(&Browser::new(&h).sign_in("google").await))
            .await
            .json();
        assert_eq!(first["id"], again["id"], "{backend}");
        // Linking rules.
        let user = h.verified_user("sql.both@example.com").await;
        fake.sign_in_as(FakeUser::verified("sql-2", "sql.both@example.com"));
        let linked = h
            .get("/me", &access(&Browser::new(&h).sign_in("corp").await))
            .await
            .json();
        assert_eq!(linked["id"], user["id"], "{backend}");
        fake.sign_in_as(FakeUser::unverified("6006", "sql.both@example.com"));
        Browser::new(&h)
            .sign_in("github")
            .await
            .assert_problem(409, "account_exists_unverified");
        // The last sign-in method stays; with a password it may go.
        fake.sign_in_as(FakeUser::verified("sql-1", "sql.new@example.com"));
        let solo = access(&Browser::new(&h).sign_in("google").await);
        h.call(
            Method::DELETE,
            "/me/identities",
            &solo,
            Some(json!({"provider": "google"})),
        )
        .await
        .assert_problem(409, "last_sign_in_method");
        let pair = h.login("sql.both@example.com", PASSWORD).await;
        let token = pair["access_token"].as_str().unwrap();
        let r = h
            .call(
                Method::DELETE,
                "/me/identities",
                token,
                Some(json!({"provider": "corp", "password": PASSWORD})),
            )
            .await;
        assert_eq!(r.status, 204, "{backend}");
        let export = h.get("/me/export", token).await.json();
        assert_eq!(export["identities"], json!([]), "{backend}");
    }
}
