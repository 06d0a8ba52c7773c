//! `POST /token/introspect` (RFC 7662): who may call it, and how the
//! request is read.
//!
//! - The caller authenticates, before the body is read: the configured
//!   [`IntrospectionClient`](super::IntrospectionClient) with HTTP Basic
//!   (`Authorization: Basic base64(id:secret)`, the id and secret each
//!   form-urlencoded first, as RFC 6749 section 2.3.1 asks), or a bearer token (or access cookie) whose account holds
//!   [`TOKENS_INTROSPECT`]. No credentials, or wrong ones: 401
//!   `token_invalid` with `WWW-Authenticate`; a principal without the
//!   permission: 403 `forbidden`. Unauthenticated introspection would let
//!   anyone test stolen or guessed tokens (RFC 7662 section 4).
//! - The body is `application/x-www-form-urlencoded` (the RFC's form) or
//!   JSON (an extension, the API's original form), with `token` and an
//!   optional `token_type_hint` (`access_token` or `refresh_token`; any
//!   other value is ignored, as RFC 7662 section 2.1 allows).
//! - The answer is [`Introspection`](crate::Introspection): access and
//!   refresh tokens are both introspected; a refresh token is only read,
//!   never rotated.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{Request, StatusCode};

use super::Api;
use super::handlers::Answer;
use super::input;
use super::problem::{Failure, json as render};
use crate::account::routes::IntrospectRequest;
use crate::audit::RequestMeta;
use crate::require_permission;
use crate::roles::TOKENS_INTROSPECT;

impl Api {
    /// `POST /token/introspect`.
    pub(super) async fn introspect(&self, request: &Request<Bytes>, meta: &RequestMeta) -> Answer {
        self.check_introspection_caller(request)?;
        let IntrospectRequest {
            token,
            token_type_hint,
        } = input::json_or_form(request, self.config().body_limit)?.typed()?;
        let hint = token_type_hint.and_then(|hint| hint.parse().ok());
        let introspection = self.auth().introspect(&token, hint, meta).await?;
        Ok(render(StatusCode::OK, &introspection))
    }

    /// The configured client by HTTP Basic, or a principal holding
    /// [`TOKENS_INTROSPECT`].
    fn check_introspection_caller(&self, request: &Request<Bytes>) -> Result<(), Failure> {
        if let Some((id, secret)) = basic_credentials(request)? {
            return match &self.config().introspection_client {
                Some(client) if client.matches(&id, &secret) => Ok(()),
                _ => Err(Failure::Unauthenticated),
            };
        }
        let principal = self.principal(request)?;
        require_permission(&principal, TOKENS_INTROSPECT)?;
        Ok(())
    }
}

/// The id and secret of an `Authorization: Basic` header, each
/// form-urldecoded (RFC 6749 section 2.3.1: a client encodes both before
/// joining them, so a `:` in either travels as `%3A`); `None` for another
/// scheme or no header. A Basic header that does not decode to
/// `id:secret` is refused.
fn basic_credentials(request: &Request<Bytes>) -> Result<Option<(String, String)>, Failure> {
    let Some(value) = request.headers().get(AUTHORIZATION) else {
        return Ok(None);
    };
    let Ok(value) = value.to_str() else {
        return Ok(None);
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(Failure::Unauthenticated)?;
    let (id, secret) = decoded.split_once(':').ok_or(Failure::Unauthenticated)?;
    Ok(Some((form_decode(id)?, form_decode(secret)?)))
}

/// One `application/x-www-form-urlencoded` value: `+` is a space, `%XX` a
/// byte; the result must be UTF-8.
fn form_decode(value: &str) -> Result<String, Failure> {
    percent_encoding::percent_decode_str(&value.replace('+', " "))
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| Failure::Unauthenticated)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn with_authorization(value: &str) -> Request<Bytes> {
        Request::post("/token/introspect")
            .header(AUTHORIZATION, value)
            .body(Bytes::new())
            .unwrap()
    }

    #[test]
    fn basic_credentials_are_decoded_or_refused() {
        let encoded = STANDARD.encode("rs:s3cret:with:colons");
        let r = with_authorization(&format!("Basic {encoded}"));
        assert_eq!(
            basic_credentials(&r).unwrap(),
            Some(("rs".to_owned(), "s3cret:with:colons".to_owned()))
        );
        // Both halves are form-urlencoded by the client (RFC 6749 2.3.1).
        let encoded = STANDARD.encode("my%3Aapp:a+b%25c%3Ad%C3%A9");
        let r = with_authorization(&format!("Basic {encoded}"));
        assert_eq!(
            basic_credentials(&r).unwrap(),
            Some(("my:app".to_owned(), "a b%c:dé".to_owned()))
        );
        let r = with_authorization(&format!("bAsIc  {encoded} "));
        assert!(basic_credentials(&r).unwrap().is_some());
        for other in ["Bearer abc", "Basic", "Token x"] {
            assert!(
                basic_credentials(&with_authorization(other))
                    .unwrap()
                    .is_none(),
                "{other}"
            );
        }
        let no_colon = STANDARD.encode("justanid");
        let invalid_utf8 = STANDARD.encode([0xff, b':', b'x']);
        let invalid_escape = STANDARD.encode("rs:%FF%FE");
        for bad in [
            "Basic !!!",
            &format!("Basic {no_colon}"),
            &format!("Basic {invalid_utf8}"),
            &format!("Basic {invalid_escape}"),
        ] {
            assert!(
                basic_credentials(&with_authorization(bad)).is_err(),
                "{bad}"
            );
        }
        let none = Request::post("/").body(Bytes::new()).unwrap();
        assert!(basic_credentials(&none).unwrap().is_none());
    }
}
