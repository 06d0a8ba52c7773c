//! Cookie mode: the tokens as cookies, and the CSRF check for requests they
//! authenticate.
//!
//! - Access token: `__Host-authkit_access`, `Path=/` (the `__Host-` prefix
//!   demands it), sent with every request to the host.
//! - Refresh token: `__Secure-authkit_refresh`, `Path=<mount>/token/refresh`,
//!   so browsers send it to the refresh route only. A `__Host-` name would
//!   force `Path=/` and expose the long-lived token to every route; the
//!   `__Secure-` prefix still guarantees `Secure`.
//!
//! Both are `HttpOnly`, `Secure` and carry an explicit `SameSite`. A
//! state-changing request (anything but GET, HEAD, OPTIONS) authenticated by
//! one of them must come with an `Origin` (or, failing that, a `Referer`)
//! in the allow-list, else it answers 403 `forbidden`.

use bytes::Bytes;
use http::header::{COOKIE, ORIGIN, REFERER, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, Response};

use super::config::ApiConfig;
use crate::service::TokenPair;

/// Name of the access-token cookie.
pub const ACCESS_COOKIE: &str = "__Host-authkit_access";
/// Name of the refresh-token cookie.
pub const REFRESH_COOKIE: &str = "__Secure-authkit_refresh";

/// The value of cookie `name` in the request, if any.
pub(crate) fn read<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
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
        &cookie(
            ACCESS_COOKIE,
            &pair.access_token,
            "/",
            config,
            pair.expires_in,
        ),
    );
    append(
        response,
        &cookie(
            REFRESH_COOKIE,
            &pair.refresh_token,
            &refresh_path(config),
            config,
            session_ttl_secs,
        ),
    );
}

/// Adds `Set-Cookie` headers that delete both cookies.
pub(crate) fn clear_tokens(response: &mut Response<Bytes>, config: &ApiConfig) {
    append(response, &cookie(ACCESS_COOKIE, "", "/", config, 0));
    append(
        response,
        &cookie(REFRESH_COOKIE, "", &refresh_path(config), config, 0),
    );
}

fn refresh_path(config: &ApiConfig) -> String {
    format!("{}/token/refresh", config.mount_path)
}

fn cookie(name: &str, value: &str, path: &str, config: &ApiConfig, max_age: i64) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={}; Secure; HttpOnly; SameSite={}",
        max_age.max(0),
        config.same_site
    )
}

fn append(response: &mut Response<Bytes>, cookie: &str) {
    // Tokens are base64url / JWT and paths are validated: always valid.
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

    #[test]
    fn token_cookies_have_every_attribute() {
        let pair = TokenPair {
            access_token: "a.b.c".into(),
            refresh_token: "r123".into(),
            token_type: "Bearer",
            expires_in: 900,
            session_id: Uuid::nil(),
        };
        let mut r = Response::new(Bytes::new());
        set_tokens(&mut r, &config(), &pair, 3600);
        let set: Vec<_> = r
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            set,
            [
                "__Host-authkit_access=a.b.c; Path=/; Max-Age=900; Secure; HttpOnly; SameSite=Strict",
                "__Secure-authkit_refresh=r123; Path=/auth/token/refresh; Max-Age=3600; Secure; HttpOnly; SameSite=Strict",
            ]
        );
        let mut r = Response::new(Bytes::new());
        clear_tokens(&mut r, &config());
        let set: Vec<_> = r
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert!(
            set.iter()
                .all(|c| c.contains("=; ") && c.contains("Max-Age=0"))
        );
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let h = headers(&[
            (
                "cookie",
                "x=1; __Host-authkit_access_x=no; __Host-authkit_access=tok",
            ),
            ("cookie", "__Secure-authkit_refresh=\"r\""),
        ]);
        assert_eq!(read(&h, ACCESS_COOKIE), Some("tok"));
        assert_eq!(read(&h, REFRESH_COOKIE), Some("r"));
        assert_eq!(
            read(
                &headers(&[("cookie", "__Host-authkit_access=")]),
                ACCESS_COOKIE
            ),
            None
        );
        assert_eq!(read(&HeaderMap::new(), ACCESS_COOKIE), None);
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
