//! Cookie mode: the tokens as cookies, the token bodies that go with them,
//! and the CSRF check for requests they authenticate.
//!
//! - Access token: `__Host-authkit_access`, `Path=/`.
//! - Refresh token: `__Host-authkit_refresh`, `Path=/`. Only
//!   `POST <mount>/token/refresh` reads it (and `POST <mount>/logout`,
//!   like every sign-out, clears it); every other route ignores it.
//!
//! Both are `HttpOnly`, `Secure` and carry an explicit `SameSite`.
//!
//! **Cookie tossing.** A page on a sibling subdomain
//! (`evil.example.com` next to `app.example.com`) can set a cookie for the
//! whole parent domain, and the browser then sends it to authkit beside, or
//! instead of, authkit's own. The `__Host-` prefix closes that door: a
//! browser stores a `__Host-` cookie only when it is `Secure`, has no
//! `Domain` attribute and has `Path=/`, so only the host itself can set it,
//! never a sibling. That is why the refresh cookie is `__Host-` too (and so
//! `Path=/`) rather than a `__Secure-` cookie scoped to the refresh path,
//! which any subdomain may plant. The reader keeps the promise:
//!
//! - names match exactly and case-sensitively, so `authkit_refresh`,
//!   `__Secure-authkit_refresh` or `__host-authkit_refresh` (names a
//!   sibling can set) are never read;
//! - a request that carries one of our names twice is refused (401
//!   `token_invalid`) rather than guessing which one the browser ordered
//!   first, and nothing is rotated.
//!
//! **Bodies.** In cookie mode the JSON answers of login, refresh, MFA
//! verification and enrolment (`TokenBody`) never carry
//! `refresh_token`, and carry `access_token` only when
//! [`ApiConfig::cookie_access_token_in_body`] is on; scripts in the page
//! then never see the refresh token at all. Bearer (non-cookie) mode
//! answers the full pair, unchanged.
//!
//! **CSRF.** A state-changing request (anything but GET, HEAD, OPTIONS)
//! authenticated by one of the cookies must come with an `Origin` (or,
//! failing that, a `Referer`) in the allow-list, else it answers 403
//! `forbidden`.

use bytes::Bytes;
use http::header::{COOKIE, ORIGIN, REFERER, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, Response};
use serde::Serialize;
use uuid::Uuid;

use super::config::ApiConfig;
use crate::auth::TokenPair;
use utoipa::ToSchema;

/// Name of the access-token cookie.
pub const ACCESS_COOKIE: &str = "__Host-authkit_access";
/// Name of the refresh-token cookie (read by the refresh route only).
pub const REFRESH_COOKIE: &str = "__Host-authkit_refresh";

/// The same cookie name twice in one request: a sign of a cookie planted
/// beside ours, refused rather than guessed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Repeated;

/// The value of cookie `name` in the request: `Ok(None)` when absent or
/// empty, [`Repeated`] when the name appears more than once (across every
/// `Cookie` header). Names match exactly, case included.
pub(crate) fn read<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, Repeated> {
    let mut found = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"'));
    let first = found.next();
    if found.next().is_some() {
        return Err(Repeated);
    }
    Ok(first.filter(|v| !v.is_empty()))
}

/// The JSON body answered with a new token pair: the whole pair in bearer
/// mode; in cookie mode, without `refresh_token`, and without
/// `access_token` unless
/// [`cookie_access_token_in_body`](ApiConfig::cookie_access_token_in_body)
/// is on (the tokens travel in the cookies).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenBody<'a> {
    /// The access token; absent in cookie mode unless configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) access_token: Option<&'a str>,
    /// The refresh token; absent in cookie mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_token: Option<&'a str>,
    /// Always `Bearer`.
    pub(crate) token_type: &'static str,
    /// Access-token lifetime in seconds.
    pub(crate) expires_in: i64,
    /// The session both belong to.
    pub(crate) session_id: Uuid,
}

impl<'a> TokenBody<'a> {
    /// The body of `pair` under `config`.
    pub(crate) fn new(pair: &'a TokenPair, config: &ApiConfig) -> Self {
        let cookies = config.cookie_mode;
        Self {
            access_token: (!cookies || config.cookie_access_token_in_body)
                .then_some(pair.access_token.as_str()),
            refresh_token: (!cookies).then_some(pair.refresh_token.as_str()),
            token_type: pair.token_type,
            expires_in: pair.expires_in,
            session_id: pair.session_id,
        }
    }
}

/// Adds the `Set-Cookie` headers of a new token pair.
pub(crate) fn set_tokens(
    response: &mut Response<Bytes>,
    config: &ApiConfig,
    pair: &TokenPair,
    session_ttl_secs: i64,
) {
    append(
        response,
        &cookie(ACCESS_COOKIE, &pair.access_token, config, pair.expires_in),
    );
    append(
        response,
        &cookie(
            REFRESH_COOKIE,
            &pair.refresh_token,
            config,
            session_ttl_secs,
        ),
    );
}

/// Adds `Set-Cookie` headers that delete both cookies.
pub(crate) fn clear_tokens(response: &mut Response<Bytes>, config: &ApiConfig) {
    append(response, &cookie(ACCESS_COOKIE, "", config, 0));
    append(response, &cookie(REFRESH_COOKIE, "", config, 0));
}

/// A `__Host-` cookie: `Path=/`, no `Domain`, `Secure`.
fn cookie(name: &str, value: &str, config: &ApiConfig, max_age: i64) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={}; Secure; HttpOnly; SameSite={}",
        max_age.max(0),
        config.same_site
    )
}

fn append(response: &mut Response<Bytes>, cookie: &str) {
    // Tokens are base64url / JWT: always valid.
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

/// Whether `method` changes state (and so needs the CSRF check).
pub(crate) fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the request's `Origin`, or failing that its `Referer`'s origin,
/// is in the allow-list. Neither header: refused.
pub(crate) fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let origin = match headers.get(ORIGIN) {
        Some(origin) => origin.to_str().ok().map(str::to_owned),
        None => headers
            .get(REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(origin_of),
    };
    let Some(origin) = origin else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
}

/// `scheme://authority` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    (!authority.is_empty() && !authority.contains('@')).then(|| format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use uuid::Uuid;

    use super::super::config::SameSite;
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn config() -> ApiConfig {
        ApiConfig {
            cookie_mode: true,
            same_site: SameSite::Strict,
            csrf_allowed_origins: vec!["https://app.example.com".into()],
            ..ApiConfig::default()
        }
    }

    fn pair() -> TokenPair {
        TokenPair {
            access_token: "a.b.c".into(),
            refresh_token: "r123".into(),
            token_type: "Bearer",
            expires_in: 900,
            session_id: Uuid::nil(),
        }
    }

    fn set_cookies(r: &Response<Bytes>) -> Vec<&str> {
        r.headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn token_cookies_are_host_only_with_every_attribute() {
        let mut r = Response::new(Bytes::new());
        set_tokens(&mut r, &config(), &pair(), 3600);
        assert_eq!(
            set_cookies(&r),
            [
                "__Host-authkit_access=a.b.c; Path=/; Max-Age=900; Secure; HttpOnly; SameSite=Strict",
                "__Host-authkit_refresh=r123; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Strict",
            ]
        );
        // What a browser demands of a `__Host-` cookie: Secure, Path=/, no
        // Domain.
        for line in set_cookies(&r) {
            assert!(line.starts_with("__Host-"), "{line}");
            assert!(
                line.contains("; Path=/;") && line.contains("; Secure"),
                "{line}"
            );
            assert!(!line.to_ascii_lowercase().contains("domain="), "{line}");
        }
        let mut r = Response::new(Bytes::new());
        clear_tokens(&mut r, &config());
        let set = set_cookies(&r);
        assert_eq!(set.len(), 2);
        assert!(set.iter().all(|c| c.starts_with("__Host-")
            && c.contains("=; Path=/; ")
            && c.contains("Max-Age=0")));
    }

    #[test]
    fn cookie_mode_bodies_keep_the_refresh_token_out() {
        let pair = pair();
        let body =
            |config: &ApiConfig| serde_json::to_value(TokenBody::new(&pair, config)).unwrap();
        let bearer = body(&ApiConfig::default());
        assert_eq!(
            bearer,
            serde_json::to_value(&pair).unwrap(),
            "bearer mode unchanged"
        );
        assert_eq!(bearer["refresh_token"], "r123");

        let cookie = body(&config());
        assert!(cookie.get("refresh_token").is_none(), "{cookie}");
        assert!(cookie.get("access_token").is_none(), "{cookie}");
        assert_eq!(cookie["token_type"], "Bearer");
        assert_eq!(cookie["expires_in"], 900);
        assert_eq!(cookie["session_id"], Uuid::nil().to_string());

        let with_access = body(&ApiConfig {
            cookie_access_token_in_body: true,
            ..config()
        });
        assert_eq!(with_access["access_token"], "a.b.c");
        assert!(with_access.get("refresh_token").is_none(), "{with_access}");
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let h = headers(&[
            (
                "cookie",
                "x=1; __Host-authkit_access_x=no; __Host-authkit_access=tok",
            ),
            ("cookie", "__Host-authkit_refresh=\"r\""),
        ]);
        assert_eq!(read(&h, ACCESS_COOKIE), Ok(Some("tok")));
        assert_eq!(read(&h, REFRESH_COOKIE), Ok(Some("r")));
        assert_eq!(
            read(
                &headers(&[("cookie", "__Host-authkit_access=")]),
                ACCESS_COOKIE
            ),
            Ok(None)
        );
        assert_eq!(read(&HeaderMap::new(), ACCESS_COOKIE), Ok(None));
    }

    #[test]
    fn names_a_sibling_domain_can_set_are_never_read() {
        for planted in [
            "authkit_refresh=planted",
            "__Secure-authkit_refresh=planted",
            "__host-authkit_refresh=planted",
            "__HOST-authkit_refresh=planted",
            "__Host-authkit_Refresh=planted",
            " __Host-authkit_refreshx=planted",
        ] {
            let h = headers(&[("cookie", planted)]);
            assert_eq!(read(&h, REFRESH_COOKIE), Ok(None), "{planted}");
        }
    }

    #[test]
    fn a_repeated_name_is_refused_not_guessed() {
        for set in [
            vec!["__Host-authkit_refresh=a; __Host-authkit_refresh=b"],
            vec!["__Host-authkit_refresh=a", "__Host-authkit_refresh=b"],
            vec!["__Host-authkit_refresh=a; __Host-authkit_refresh=a"],
            vec!["__Host-authkit_refresh=; __Host-authkit_refresh=b"],
        ] {
            let pairs: Vec<_> = set.iter().map(|c| ("cookie", *c)).collect();
            assert_eq!(
                read(&headers(&pairs), REFRESH_COOKIE),
                Err(Repeated),
                "{set:?}"
            );
        }
        let h = headers(&[("cookie", "__Host-authkit_access=a; __Host-authkit_access=b")]);
        assert_eq!(read(&h, ACCESS_COOKIE), Err(Repeated));
        // Other names repeated do not matter.
        let h = headers(&[("cookie", "x=1; x=2; __Host-authkit_access=a")]);
        assert_eq!(read(&h, ACCESS_COOKIE), Ok(Some("a")));
    }

    #[test]
    fn csrf_accepts_only_allowed_origins() {
        let allowed = config().csrf_allowed_origins;
        let ok = [
            vec![("origin", "https://app.example.com")],
            vec![("origin", "HTTPS://APP.EXAMPLE.COM")],
            vec![("referer", "https://app.example.com/settings?x=1")],
            vec![("referer", "https://app.example.com")],
        ];
        for h in ok {
            assert!(origin_allowed(&headers(&h), &allowed), "{h:?}");
        }
        let refused = [
            vec![],
            vec![("origin", "null")],
            vec![("origin", "https://evil.example")],
            vec![("origin", "https://app.example.com.evil.example")],
            vec![("origin", "http://app.example.com")],
            vec![("referer", "https://app.example.com@evil.example/")],
            vec![("referer", "https://evil.example/?https://app.example.com")],
            // Origin wins over Referer.
            vec![
                ("origin", "https://evil.example"),
                ("referer", "https://app.example.com/"),
            ],
        ];
        for h in refused {
            assert!(!origin_allowed(&headers(&h), &allowed), "{h:?}");
        }
        assert!(is_state_changing(&Method::POST) && is_state_changing(&Method::DELETE));
        assert!(!is_state_changing(&Method::GET));
    }
}
