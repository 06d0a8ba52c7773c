//! The security headers of every API answer, added once, in
//! [`Api::handle`](super::Api::handle) and
//! [`Api::well_known`](super::Api::well_known), so both adapters send them:
//!
//! | header | value | when |
//! | --- | --- | --- |
//! | `Cache-Control` | `no-store` | every answer (tokens, accounts, errors), except the two public documents below |
//! | `Cache-Control` | `public, max-age=60` | `GET /.well-known/jwks.json` (public keys; a new key is published well before it signs) |
//! | `Cache-Control` | `public, max-age=300` | `GET <mount>/openapi.json` (the same for every caller) |
//! | `X-Content-Type-Options` | `nosniff` | always |
//! | `Referrer-Policy` | `no-referrer` | always |
//! | `Content-Security-Policy` | `default-src 'none'; frame-ancestors 'none'` | always: the API answers JSON (or nothing), never a page to render or frame |
//! | `Strict-Transport-Security` | `max-age=31536000` | when `AUTHKIT_PUBLIC_URL` is `https://` |
//!
//! HSTS leaves out `includeSubDomains`: the host application, not authkit,
//! knows whether every subdomain speaks HTTPS.

use http::HeaderMap;
use http::HeaderValue;
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS,
};

/// `Content-Security-Policy` of API answers.
pub(super) const CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// `Strict-Transport-Security` when the public URL is HTTPS (one year).
pub(super) const HSTS: &str = "max-age=31536000";
/// `Cache-Control` of the OpenAPI document.
pub(super) const OPENAPI_CACHE: &str = "public, max-age=300";

/// Adds the headers of the table above; a `Cache-Control` already chosen
/// (the public documents) is kept, any other answer gets `no-store`.
pub(super) fn apply(headers: &mut HeaderMap, https: bool) {
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    if https {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_is_set_and_a_chosen_cache_policy_kept() {
        let mut headers = HeaderMap::new();
        apply(&mut headers, false);
        assert_eq!(headers[CACHE_CONTROL], "no-store");
        assert_eq!(headers[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[REFERRER_POLICY], "no-referrer");
        assert_eq!(headers[CONTENT_SECURITY_POLICY], CSP);
        assert!(headers.get(STRICT_TRANSPORT_SECURITY).is_none());

        let mut headers = HeaderMap::new();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(OPENAPI_CACHE));
        apply(&mut headers, true);
        assert_eq!(headers[CACHE_CONTROL], OPENAPI_CACHE);
        assert_eq!(headers[STRICT_TRANSPORT_SECURITY], HSTS);
        assert_eq!(headers.get_all(REFERRER_POLICY).iter().count(), 1);
    }
}
