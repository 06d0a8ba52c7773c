//! Translation between actix-web's request and response types (built on
//! `http` 0.2) and the `http` 1 types the API in core speaks.

use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{StatusCode, Version};
use bytes::Bytes;

/// The method in `http` 1 terms (both versions accept the same tokens,
/// so `None` does not happen in practice).
pub(crate) fn method(method: &actix_web::http::Method) -> Option<http::Method> {
    http::Method::from_bytes(method.as_str().as_bytes()).ok()
}

/// Every header, in order, repeated names included.
pub(crate) fn headers(headers: &actix_web::http::header::HeaderMap) -> http::HeaderMap {
    let mut out = http::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append(name, value);
        }
    }
    out
}

fn version(version: Version) -> http::Version {
    match version {
        Version::HTTP_09 => http::Version::HTTP_09,
        Version::HTTP_10 => http::Version::HTTP_10,
        Version::HTTP_2 => http::Version::HTTP_2,
        Version::HTTP_3 => http::Version::HTTP_3,
        _ => http::Version::HTTP_11,
    }
}

/// `request` as an `http` 1 request for `path` (with the original query
/// string) and `body`; `None` if the path is not a valid request target.
pub(crate) fn request(
    request: &HttpRequest,
    path: &str,
    body: Bytes,
) -> Option<http::Request<Bytes>> {
    let target = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let uri = http::Uri::try_from(target).ok()?;
    let mut out = http::Request::new(body);
    *out.method_mut() = method(request.method())?;
    *out.uri_mut() = uri;
    *out.version_mut() = version(request.version());
    *out.headers_mut() = headers(request.headers());
    Some(out)
}

/// An API response as an actix response: status, headers (repeated ones
/// such as `Set-Cookie` included) and body unchanged.
pub(crate) fn response(response: http::Response<Bytes>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let status =
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = HttpResponse::with_body(status, body);
    for (name, value) in &parts.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.headers_mut().append(name, value);
        }
    }
    out.map_into_boxed_body()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn requests_keep_method_query_headers_and_body() {
        let actix = TestRequest::post()
            .uri("/auth/me/audit?page=2&per_page=%C3%A9")
            .insert_header(("x-forwarded-for", "203.0.113.9"))
            .append_header(("cookie", "a=1"))
            .append_header(("cookie", "b=2"))
            .to_http_request();
        let out = request(&actix, "/me/audit", Bytes::from_static(b"{}")).unwrap();
        assert_eq!(out.method(), http::Method::POST);
        assert_eq!(out.uri(), "/me/audit?page=2&per_page=%C3%A9");
        assert_eq!(out.version(), http::Version::HTTP_11);
        assert_eq!(out.headers()["x-forwarded-for"], "203.0.113.9");
        let cookies: Vec<_> = out.headers().get_all("cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(out.body().as_ref(), b"{}");
    }

    #[test]
    fn non_ascii_header_bytes_survive() {
        let actix = TestRequest::get()
            .insert_header((
                "user-agent",
                HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
            ))
            .to_http_request();
        let out = request(&actix, "/", Bytes::new()).unwrap();
        assert_eq!(out.headers()["user-agent"].as_bytes(), b"caf\xc3\xa9");
    }

    #[test]
    fn extension_methods_are_kept() {
        let actix = TestRequest::default()
            .method(actix_web::http::Method::from_bytes(b"PURGE").unwrap())
            .to_http_request();
        assert_eq!(method(actix.method()).unwrap().as_str(), "PURGE");
    }

    #[actix_web::test]
    async fn responses_keep_status_repeated_headers_and_body() {
        let api = http::Response::builder()
            .status(429)
            .header("content-type", "application/problem+json")
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2")
            .body(Bytes::from_static(b"{\"x\":1}"))
            .unwrap();
        let out = response(api);
        assert_eq!(out.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            out.headers().get("content-type").unwrap(),
            "application/problem+json"
        );
        let cookies: Vec<_> = out.headers().get_all("set-cookie").collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        let body = actix_web::body::to_bytes(out.into_body()).await.unwrap();
        assert_eq!(body.as_ref(), b"{\"x\":1}");
    }
}
