//! Social login over HTTP: `GET /oauth/{provider}/start`,
//! `GET /oauth/{provider}/callback` and `GET/POST/DELETE /me/identities`.
//!
//! - `start` answers 302 to the provider and sets the browser-binding
//!   cookie `__Host-authkit_oauth` (`HttpOnly`, `Secure`, `SameSite=Lax`
//!   so the provider's redirect back carries it, `Path=/`, as long as the
//!   sign-in is valid). `?redirect_to=` must pass the allow-list (422
//!   `validation_failed` / `redirect_not_allowed` otherwise).
//! - `callback` needs that cookie; it answers the token pair as JSON (or
//!   the MFA challenge), or in cookie mode 302 to `redirect_to` with the
//!   session cookies set (an MFA challenge then travels in the URL
//!   fragment, never in the query: `#mfa_required=true&mfa_token=...`).
//!   Errors are problem+json. Every answer clears the binding cookie and
//!   carries `Referrer-Policy: no-referrer` and `Cache-Control: no-store`.
//! - `POST /me/identities {provider, redirect_to?}` starts a link for the
//!   signed-in caller: 200 `{authorization_url, expires_in}` plus the
//!   binding cookie; the browser then goes to `authorization_url`, and the
//!   callback answers 200 `{identity}` (cookie mode: 302 to `redirect_to`).
//! - `DELETE /me/identities {provider}` answers 204; 409
//!   `last_sign_in_method` when it is the account's last way to sign in.

use std::collections::HashMap;

use bytes::Bytes;
use http::header::{LOCATION, REFERRER_POLICY, SET_COOKIE};
use http::{HeaderValue, Request, Response, StatusCode};
use url::form_urlencoded;

use super::Api;
use super::cookies;
use super::problem::{Failure, json as render, no_content};
use crate::audit::RequestMeta;
use crate::auth::{LoginOutcome, OAuthCallback, OAuthResult};
use crate::error::AuthError;
use crate::social::routes::{
    CallbackQuery, LinkRequest, LinkStarted, Linked, StartQuery, UnlinkRequest,
};

/// Name of the cookie binding a sign-in to the browser that started it.
pub const OAUTH_COOKIE: &str = "__Host-authkit_oauth";

type Answer = Result<Response<Bytes>, Failure>;

impl Api {
    /// `GET /oauth/{provider}/start?redirect_to=`.
    pub(super) async fn oauth_start(
        &self,
        provider: &str,
        request: &Request<Bytes>,
        meta: &RequestMeta,
    ) -> Answer {
        let query = StartQuery {
            redirect_to: query(request)?.remove("redirect_to"),
        };
        let started = self
            .auth()
            .social()
            .start(provider, query.redirect_to.as_deref(), None, meta)
            .await?;
        let mut response = Response::new(Bytes::new());
        *response.status_mut() = StatusCode::FOUND;
        let location = HeaderValue::from_str(&started.authorization_url)
            .map_err(|_| AuthError::internal_msg("unusable authorization URL"))?;
        response.headers_mut().insert(LOCATION, location);
        set_binding(&mut response, &started.browser_binding, started.expires_in);
        Ok(private(response))
    }

    /// `GET /oauth/{provider}/callback?code&state[&iss][&error]`.
    pub(super) async fn oauth_callback(
        &self,
        provider: &str,
        request: &Request<Bytes>,
        meta: &RequestMeta,
    ) -> Response<Bytes> {
        let answer = self.finish_oauth(provider, request, meta).await;
        let mut response = answer.unwrap_or_else(Failure::into_response);
        set_binding(&mut response, "", 0);
        private(response)
    }

    async fn finish_oauth(
        &self,
        provider: &str,
        request: &Request<Bytes>,
        meta: &RequestMeta,
    ) -> Answer {
        let mut query = query(request)?;
        let query = CallbackQuery {
            code: query.remove("code"),
            state: query.remove("state"),
            iss: query.remove("iss"),
            error: query.remove("error"),
        };
        let callback = OAuthCallback {
            code: query.code,
            state: query.state,
            iss: query.iss,
            error: query.error,
            // A repeated binding cookie binds nothing: the state check fails.
            browser_binding: cookies::read(request.headers(), OAUTH_COOKIE)
                .ok()
                .flatten()
                .map(str::to_owned),
        };
        let outcome = self
            .auth()
            .social()
            .callback(provider, callback, meta)
            .await?;
        let cookie_mode = self.config().cookie_mode;
        Ok(match outcome.result {
            OAuthResult::SignedIn(LoginOutcome::Tokens(pair)) if cookie_mode => {
                self.with_cookies(redirect(&outcome.redirect_to, None)?, &pair)
            }
            OAuthResult::SignedIn(challenge) if cookie_mode => {
                let fields = match challenge {
                    LoginOutcome::MfaRequired(c) => serde_json::to_value(&c),
                    LoginOutcome::MfaEnrollmentRequired(e) => serde_json::to_value(&e),
                    LoginOutcome::Tokens(_) => Ok(serde_json::Value::Null),
                }
                .map_err(AuthError::internal)?;
                redirect(&outcome.redirect_to, Some(&fragment(&fields)))?
            }
            OAuthResult::SignedIn(outcome) => self.login_answer(outcome),
            OAuthResult::Linked(_) if cookie_mode => redirect(&outcome.redirect_to, None)?,
            OAuthResult::Linked(identity) => render(StatusCode::OK, &Linked { identity }),
        })
    }

    /// `GET /me/identities`.
    pub(super) async fn identities(&self, request: &Request<Bytes>) -> Answer {
        let principal = self.principal(request)?;
        Ok(render(
            StatusCode::OK,
            &self.auth().social().identities(&principal).await?,
        ))
    }

    /// `POST /me/identities {provider, redirect_to?}`.
    pub(super) async fn link_identity(
        &self,
        request: &Request<Bytes>,
        meta: &RequestMeta,
    ) -> Answer {
        let principal = self.principal(request)?;
        let LinkRequest {
            provider,
            redirect_to,
        } = self.body(request)?;
        let started = self
            .auth()
            .social()
            .start(&provider, redirect_to.as_deref(), Some(&principal), meta)
            .await?;
        let mut response = render(
            StatusCode::OK,
            &LinkStarted {
                authorization_url: started.authorization_url,
                expires_in: started.expires_in,
            },
        );
        set_binding(&mut response, &started.browser_binding, started.expires_in);
        Ok(private(response))
    }

    /// `DELETE /me/identities {provider, password}` (`password` only for
    /// an account that has one).
    pub(super) async fn unlink_identity(
        &self,
        request: &Request<Bytes>,
        meta: &RequestMeta,
    ) -> Answer {
        let principal = self.principal(request)?;
        let UnlinkRequest { provider, password } = self.body(request)?;
        self.auth()
            .social()
            .unlink(&principal, &provider, password.as_deref(), meta)
            .await?;
        Ok(no_content())
    }
}

/// The query's parameters; a repeated one is refused (parameter
/// pollution of `state` or `code`).
fn query(request: &Request<Bytes>) -> Result<HashMap<String, String>, Failure> {
    let mut params = HashMap::new();
    let raw = request.uri().query().unwrap_or_default();
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        if params
            .insert(key.into_owned(), value.into_owned())
            .is_some()
        {
            return Err(Failure::Malformed("A query parameter is repeated."));
        }
    }
    Ok(params)
}

/// 302 to `target` (already checked against the allow-list), with an
/// optional fragment.
fn redirect(target: &str, fragment: Option<&str>) -> Result<Response<Bytes>, Failure> {
    let mut location = target.split('#').next().unwrap_or(target).to_owned();
    if let Some(fragment) = fragment {
        location.push('#');
        location.push_str(fragment);
    }
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::FOUND;
    let value = HeaderValue::from_str(&location)
        .map_err(|_| AuthError::internal_msg("unusable redirect"))?;
    response.headers_mut().insert(LOCATION, value);
    Ok(response)
}

/// `a=1&b=x,y` from a JSON object (arrays joined with commas).
fn fragment(fields: &serde_json::Value) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    if let Some(object) = fields.as_object() {
        for (key, value) in object {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            out.append_pair(key, &text);
        }
    }
    out.finish()
}

/// Sets (or, with `max_age` 0, clears) the browser-binding cookie.
fn set_binding(response: &mut Response<Bytes>, value: &str, max_age: i64) {
    let cookie = format!(
        "{OAUTH_COOKIE}={value}; Path=/; Max-Age={}; Secure; HttpOnly; SameSite=Lax",
        max_age.max(0)
    );
    // The value is base64url: always a valid header.
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
}

/// No caching, and no `Referer` carrying a code or state onwards.
fn private(mut response: Response<Bytes>) -> Response<Bytes> {
    let headers = response.headers_mut();
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fragments_flatten_the_challenge() {
        let f = fragment(
            &serde_json::json!({"mfa_required": true, "mfa_token": "a b", "methods": ["totp", "sms"]}),
        );
        assert_eq!(f, "methods=totp%2Csms&mfa_required=true&mfa_token=a+b");
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let request = Request::get("/oauth/x/callback?state=a&code=b&state=c")
            .body(Bytes::new())
            .unwrap();
        assert!(query(&request).is_err());
        let request = Request::get("/oauth/x/callback?state=a%2Bb&code=c")
            .body(Bytes::new())
            .unwrap();
        assert_eq!(query(&request).unwrap()["state"], "a+b");
    }

    #[test]
    fn redirects_replace_any_fragment() {
        let r = redirect("https://app.example.com/x#old", Some("a=1")).unwrap();
        assert_eq!(r.headers()[LOCATION], "https://app.example.com/x#a=1");
        assert_eq!(r.status(), StatusCode::FOUND);
    }
}
