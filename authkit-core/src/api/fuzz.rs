//! Property tests ("fuzzing") of everything a request feeds: whole
//! requests through [`Api::handle`] (bodies, cookies, headers, query
//! strings, paths), and each request parser on its own (the JSON input
//! reader, cookies and the CSRF origin check, `Forwarded` /
//! `X-Forwarded-For`, query strings).
//!
//! Each property runs [`CASES`] generated cases in a plain `cargo test`;
//! the properties: nothing panics, nothing answers 5xx, and every refusal
//! is `application/problem+json` with its status and a `code`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value};

use super::cookies::{self, ACCESS_COOKIE, REFRESH_COOKIE};
use super::input;
use super::query::Query;
use super::routes::Route;
use super::*;
use crate::AuthConfig;
use crate::account::routes::{IntrospectRequest, RefreshRequest, RegisterRequest};
use crate::admin::routes::RolesRequest;
use crate::auth::ProfileUpdate;
use crate::rate_limit::NoLimiter;
use crate::store::{MemoryStore, Store};

/// Generated cases per property.
const CASES: u32 = 10_000;

const ORIGIN: &str = "https://app.example.com";

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        // A failure prints its minimal case; nothing is written to the tree.
        failure_persistence: None,
        ..Config::default()
    })
}

// ---- generators ----------------------------------------------------------

/// The field names the routes read, and a few others.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "email", "password", "display_name", "phone", "challenge_id", "code",
            "token", "refresh_token", "new_password", "current_password", "mfa_token",
            "method", "avatar_url", "roles", "name", "slug", "role", "provider",
            "redirect_to", "until", "reason",
        ])
        .prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

/// Strings a field might hold: valid-looking ones and anything at all.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => ".{0,40}",
        1 => "[a-z]{1,8}@example\\.com",
        1 => prop::sample::select(vec![
            "totp", "backup_code", "email", "sms", "OWNER", "MEMBER", "google",
            "+15555550123", "123456", "2031-05-04T12:00:00Z", "correct horse battery",
            "0190a0a0-0000-7000-8000-000000000000", "", "\u{0}", "null",
        ])
        .prop_map(str::to_owned),
        1 => "[ -~]{200,400}",
    ]
}

/// Any JSON value, a few levels deep, with the routes' field names.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A request body: a JSON object of the routes' fields, any JSON, or any
/// bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::btree_map(field_name(), json_value(), 0..6).prop_map(|m| {
            serde_json::to_vec(&Value::Object(m.into_iter().collect())).unwrap()
        }),
        1 => json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => prop::collection::vec(any::<u8>(), 0..300),
        1 => Just(Vec::new()),
    ]
}

/// A header value: printable, token-like, or any bytes a header may carry.
fn header_value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        "[ -~]{0,120}".prop_map(|s| HeaderValue::from_str(&s).unwrap()),
        prop::collection::vec(any::<u8>(), 0..120).prop_map(|bytes| {
            HeaderValue::from_bytes(&bytes).unwrap_or_else(|_| HeaderValue::from_static("x"))
        }),
    ]
}

/// A `Cookie` header value: our names (sometimes twice), look-alikes and
/// noise.
fn cookie_header() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just(ACCESS_COOKIE.to_owned()),
        Just(REFRESH_COOKIE.to_owned()),
        Just(OAUTH_COOKIE.to_owned()),
        Just("__Secure-authkit_refresh".to_owned()),
        Just("__host-authkit_access".to_owned()),
        "[!-:<-~]{0,12}",
    ];
    let value = prop_oneof!["[!-:<-~]{0,60}", "\"[ -~]{0,20}\"", Just(String::new())];
    prop::collection::vec(
        (
            name,
            value,
            prop::sample::select(vec!["; ", ";", " ; ", ""]),
        ),
        0..5,
    )
    .prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(n, v, sep)| format!("{n}={v}{sep}"))
            .collect()
    })
}

/// `X-Forwarded-For` / `Forwarded` values: lists of addresses, ports,
/// brackets, quotes, obfuscated nodes and noise.
fn forwarded_value() -> impl Strategy<Value = String> {
    let node = prop_oneof![
        any::<IpAddr>().prop_map(|ip| ip.to_string()),
        any::<std::net::Ipv6Addr>().prop_map(|ip| format!("\"[{ip}]:8080\"")),
        any::<std::net::Ipv4Addr>().prop_map(|ip| format!("{ip}:443")),
        Just("unknown".to_owned()),
        Just("_hidden".to_owned()),
        "[ -~]{0,20}",
    ];
    let element = prop_oneof![
        node.clone(),
        node.clone().prop_map(|n| format!("for={n}")),
        (node, "[a-z]{0,5}").prop_map(|(n, k)| format!("{k}=x;for={n};proto=https")),
    ];
    prop::collection::vec(element, 0..6).prop_map(|v| v.join(", "))
}

/// A query string: raw URI characters, or encoded pairs of any text.
fn query_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9=&%+._~!$'()*,;:@/?-]{0,80}",
        prop::collection::vec(
            (
                prop_oneof![
                    prop::sample::select(vec![
                        "page",
                        "per_page",
                        "q",
                        "event",
                        "user",
                        "since",
                        "until",
                        "redirect_to",
                        "code",
                        "state",
                        "iss",
                        "error",
                    ])
                    .prop_map(str::to_owned),
                    ".{0,8}",
                ],
                text(),
            ),
            0..6,
        )
        .prop_map(|pairs| {
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
        }),
    ]
}

/// A method and path: a route of the table (with any parameter values,
/// UUIDs among them), the path of one with another method, or anything.
fn route() -> impl Strategy<Value = (Method, String)> {
    let segment = prop_oneof![
        "[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,24}",
        any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()),
    ];
    let known = (
        prop::sample::select(routes::all().collect::<Vec<&'static Route>>()),
        prop::collection::vec(segment.clone(), 2),
    )
        .prop_map(|(route, params)| {
            let path = route
                .path
                .split('/')
                .map(|s| {
                    if s.starts_with('{') {
                        params[s.len() % 2].clone()
                    } else {
                        s.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            (route.method.clone(), path)
        });
    prop_oneof![
        8 => known.clone(),
        1 => (method(), known).prop_map(|(m, (_, p))| (m, p)),
        1 => (method(), prop::collection::vec(segment, 0..5))
            .prop_map(|(m, s)| (m, format!("/{}", s.join("/")))),
    ]
}

fn method() -> impl Strategy<Value = Method> {
    prop::sample::select(vec![
        Method::GET,
        Method::POST,
        Method::PATCH,
        Method::PUT,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
    ])
}

/// How a request authenticates: not at all, with junk, or with the
/// signed-in test account's access token as a bearer header or (in cookie
/// mode) a cookie.
#[derive(Debug, Clone)]
enum Credential {
    None,
    Junk(HeaderValue),
    Bearer,
    Cookie,
}

/// One whole request, the socket peer it comes from, and how it
/// authenticates.
fn request() -> impl Strategy<Value = (Request<Bytes>, Option<IpAddr>, Credential)> {
    let content_type = prop::option::of(prop_oneof![
        6 => Just(HeaderValue::from_static("application/json")),
        1 => Just(HeaderValue::from_static("application/json; charset=utf-8")),
        1 => Just(HeaderValue::from_static("application/problem+json")),
        1 => Just(HeaderValue::from_static("text/plain")),
        1 => header_value(),
    ]);
    let credential = prop_oneof![
        3 => Just(Credential::None),
        1 => prop_oneof![
            "[!-~]{0,80}".prop_map(|t| HeaderValue::from_str(&format!("Bearer {t}")).unwrap()),
            header_value(),
        ]
        .prop_map(Credential::Junk),
        3 => Just(Credential::Bearer),
        2 => Just(Credential::Cookie),
    ];
    let others = prop::collection::vec(
        (
            prop::sample::select(vec![
                "origin",
                "referer",
                "x-forwarded-for",
                "forwarded",
                "user-agent",
                "x-request-id",
                "content-length",
            ]),
            prop_oneof![
                forwarded_value().prop_map(|v| HeaderValue::from_str(&v).unwrap()),
                Just(HeaderValue::from_static(ORIGIN)),
                header_value(),
            ],
        ),
        0..4,
    );
    (
        (route(), prop::option::of(query_string())),
        (content_type, credential, prop::option::of(cookie_header())),
        others,
        body(),
        prop::option::of(any::<IpAddr>()),
    )
        .prop_map(
            |(((method, path), query), (content_type, credential, cookie), others, body, peer)| {
                let uri = match query {
                    Some(q) => format!("{path}?{q}"),
                    None => path,
                };
                let mut request = Request::new(Bytes::from(body));
                *request.method_mut() = method;
                *request.uri_mut() = uri.parse().unwrap_or_else(|_| "/".parse().unwrap());
                let headers = request.headers_mut();
                if let Some(v) = content_type {
                    headers.insert(http::header::CONTENT_TYPE, v);
                }
                if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
                    headers.insert(http::header::COOKIE, v);
                }
                for (name, value) in others {
                    headers.append(HeaderName::from_static(name), value);
                }
                (request, peer, credential)
            },
        )
}

// ---- checks --------------------------------------------------------------

/// No 5xx; every refusal is problem+json with its status and a `code`.
fn check_answer(response: &Response<Bytes>) -> Result<(), TestCaseError> {
    let status = response.status();
    prop_assert!(
        !status.is_server_error(),
        "{status}: {}",
        String::from_utf8_lossy(response.body())
    );
    if status.is_client_error() {
        prop_assert_eq!(
            response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some(PROBLEM_JSON)
        );
        let problem: Value = serde_json::from_slice(response.body())
            .map_err(|e| TestCaseError::fail(format!("problem body is not JSON: {e}")))?;
        prop_assert!(problem["code"].as_str().is_some_and(|c| !c.is_empty()));
        prop_assert_eq!(problem["status"].as_u64(), Some(u64::from(status.as_u16())));
    }
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The API, in bearer or cookie mode, and the access token of a signed-in
/// `SYSTEM_ADMIN` (so authenticated and admin routes read their input too).
async fn api(cookie_mode: bool) -> (Api, String) {
    let config = AuthConfig {
        mfa: crate::MfaConfig::default().enabled(true),
        ..AuthConfig::default()
    };
    let auth = Auth::builder(config, Store::new(MemoryStore::new()))
        .rate_limiter(Arc::new(NoLimiter))
        .build()
        .await
        .unwrap();
    let password = "fuzzing: a long admin password";
    auth.admin()
        .create_admin(crate::auth::NewAdmin::new("root@example.com", password))
        .await
        .unwrap();
    let meta = crate::audit::RequestMeta::new(None, None);
    let credentials = crate::auth::Credentials::new("root@example.com", password);
    let crate::auth::LoginOutcome::Tokens(pair) = auth.login(credentials, &meta).await.unwrap()
    else {
        panic!("the admin signs in without a second factor");
    };
    let config = ApiConfig {
        cookie_mode,
        csrf_allowed_origins: vec![ORIGIN.into()],
        // Every peer is a proxy, so the forwarding headers are always read.
        trusted_proxies: "0.0.0.0/0, ::/0".parse().unwrap(),
        ..ApiConfig::default()
    };
    (Api::new(auth, config).unwrap(), pair.access_token)
}

// ---- properties ------------------------------------------------------------

/// Any request, in bearer and in cookie mode: no panic, no 5xx, every
/// refusal a problem+json with a `code`.
#[test]
fn any_request_is_answered_without_panic_or_5xx() {
    let rt = runtime();
    let apis = [rt.block_on(api(false)), rt.block_on(api(true))];
    runner(CASES)
        .run(
            &(any::<bool>(), request()),
            |(cookie_mode, (mut request, peer, credential))| {
                let (api, token) = &apis[usize::from(cookie_mode)];
                // The account must stay signed in for the next cases.
                let path = request.uri().path();
                let signs_out = path.starts_with("/logout");
                let headers = request.headers_mut();
                match credential {
                    Credential::None => {}
                    Credential::Junk(value) => {
                        headers.insert(http::header::AUTHORIZATION, value);
                    }
                    _ if signs_out => {}
                    Credential::Bearer => {
                        let bearer = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
                        headers.insert(http::header::AUTHORIZATION, bearer);
                    }
                    Credential::Cookie => {
                        let cookie =
                            HeaderValue::from_str(&format!("{ACCESS_COOKIE}={token}")).unwrap();
                        headers.append(http::header::COOKIE, cookie);
                    }
                }
                let response = rt.block_on(api.handle(request, peer));
                check_answer(&response)
            },
        )
        .unwrap();
}

/// The JSON input reader and the JSON-or-form reader: any content type
/// and bytes give a body or a refusal (400, 413, 415, 422), and reading
/// fields never panics.
#[test]
fn the_json_reader_reads_or_refuses_any_body() {
    let content_type = prop::option::of(prop_oneof![
        Just("application/json".to_owned()),
        Just("application/x-www-form-urlencoded".to_owned()),
        Just("Application/X-WWW-Form-Urlencoded; charset=utf-8".to_owned()),
        "[ -~]{0,40}",
    ]);
    let body = prop_oneof![
        3 => body(),
        1 => query_string().prop_map(String::into_bytes),
    ];
    runner(CASES)
        .run(
            &(content_type, body, 0usize..4, 1usize..512, any::<bool>()),
            |(content_type, body, which, limit, form_allowed)| {
                let mut request = Request::new(Bytes::from(body));
                if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                    request.headers_mut().insert(http::header::CONTENT_TYPE, ct);
                }
                // The JSON-or-form reader of introspection, or the typed
                // reader (one pass, then the schema's check) of a route's
                // request type.
                let outcome = if form_allowed {
                    input::json_or_form(&request, limit)
                        .and_then(|body| body.typed::<IntrospectRequest>())
                        .map(drop)
                } else {
                    match which {
                        0 => input::optional_typed::<RegisterRequest>(&request, limit).map(drop),
                        1 => input::optional_typed::<ProfileUpdate>(&request, limit).map(drop),
                        2 => input::optional_typed::<RolesRequest>(&request, limit).map(drop),
                        _ => input::optional_typed::<RefreshRequest>(&request, limit).map(drop),
                    }
                };
                if let Err(failure) = outcome {
                    let response = failure.into_response();
                    prop_assert!(matches!(response.status().as_u16(), 400 | 413 | 415 | 422));
                    check_answer(&response)?;
                }
                Ok(())
            },
        )
        .unwrap();
}

/// Cookies: any `Cookie` headers give our cookie's one non-empty value,
/// nothing, or a refusal of a repeated name; the CSRF check accepts only
/// an allowed origin.
#[test]
fn cookies_and_origins_are_read_strictly() {
    let allowed = vec![ORIGIN.to_owned(), "http://localhost:5173".to_owned()];
    let origin = prop::option::of(prop_oneof![
        Just(ORIGIN.to_owned()),
        Just("https://APP.example.com/".to_owned()),
        "[ -~]{0,40}",
    ]);
    let referer = prop::option::of(prop_oneof![
        Just(format!("{ORIGIN}/settings")),
        "https?://[ -~]{0,40}",
    ]);
    runner(CASES)
        .run(
            &(
                prop::collection::vec(cookie_header(), 0..3),
                origin,
                referer,
            ),
            |(cookie_headers, origin, referer)| {
                let mut headers = HeaderMap::new();
                for c in &cookie_headers {
                    if let Ok(v) = HeaderValue::from_str(c) {
                        headers.append(http::header::COOKIE, v);
                    }
                }
                for name in [ACCESS_COOKIE, REFRESH_COOKIE, OAUTH_COOKIE] {
                    let occurrences = headers
                        .get_all(http::header::COOKIE)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .flat_map(|v| v.split(';'))
                        .filter(|p| p.trim().split_once('=').is_some_and(|(k, _)| k == name))
                        .count();
                    match cookies::read(&headers, name) {
                        Ok(Some(value)) => {
                            prop_assert_eq!(occurrences, 1);
                            prop_assert!(!value.is_empty() && !value.contains(';'));
                        }
                        Ok(None) => prop_assert!(occurrences <= 1),
                        Err(_) => prop_assert!(occurrences >= 2),
                    }
                }
                if let Some(o) = origin
                    .as_deref()
                    .and_then(|o| HeaderValue::from_str(o).ok())
                {
                    headers.insert(http::header::ORIGIN, o);
                }
                if let Some(r) = referer
                    .as_deref()
                    .and_then(|r| HeaderValue::from_str(r).ok())
                {
                    headers.insert(http::header::REFERER, r);
                }
                if cookies::origin_allowed(&headers, &allowed) {
                    let claimed = match headers.get(http::header::ORIGIN) {
                        Some(o) => o.to_str().unwrap().to_owned(),
                        None => headers[http::header::REFERER].to_str().unwrap().to_owned(),
                    };
                    prop_assert!(
                        allowed.iter().any(|a| claimed
                            .to_ascii_lowercase()
                            .starts_with(&a.to_ascii_lowercase())),
                        "{claimed}"
                    );
                }
                Ok(())
            },
        )
        .unwrap();
}

/// `Forwarded` / `X-Forwarded-For`: an untrusted peer is the client
/// whatever the headers say; behind a trusted proxy the client is the peer
/// or an address named by the ONE configured header, never the other.
#[test]
fn forwarding_headers_never_override_an_untrusted_peer() {
    let proxies: TrustedProxies = "10.0.0.0/8, 127.0.0.1, fd00::/8".parse().unwrap();
    let peer = prop_oneof![
        any::<IpAddr>(),
        Just("10.1.2.3".parse::<IpAddr>().unwrap()),
        Just("127.0.0.1".parse::<IpAddr>().unwrap()),
        Just("::ffff:10.0.0.1".parse::<IpAddr>().unwrap()),
    ];
    runner(CASES)
        .run(
            &(
                prop::option::of(peer),
                prop::option::of(forwarded_value()),
                prop::option::of(forwarded_value()),
            ),
            |(peer, xff, forwarded)| {
                let mut headers = HeaderMap::new();
                for (name, value) in [("x-forwarded-for", &xff), ("forwarded", &forwarded)] {
                    if let Some(v) = value {
                        headers.insert(name, HeaderValue::from_str(v).unwrap());
                    }
                }
                for (mode, read) in [
                    (ProxyHeader::XForwardedFor, &xff),
                    (ProxyHeader::Forwarded, &forwarded),
                ] {
                    let named = read.clone().unwrap_or_default();
                    let client = proxies.client_ip(peer, &headers, mode);
                    match peer.map(|p| p.to_canonical()) {
                        None => prop_assert_eq!(client, None),
                        Some(peer) if !proxies.contains(peer) => {
                            prop_assert_eq!(client, Some(peer));
                        }
                        Some(peer) => {
                            let client = client.unwrap();
                            // Quoted strings may escape characters.
                            let unescaped = named.replace('\\', "");
                            prop_assert!(
                                client == peer
                                    || headers_name(&named, client)
                                    || headers_name(&unescaped, client),
                                "{client} from {named:?} ({mode})"
                            );
                        }
                    }
                }
                Ok(())
            },
        )
        .unwrap();
}

/// Whether `ip` appears in `text` in one of the spellings a header may
/// use for it.
fn headers_name(text: &str, ip: IpAddr) -> bool {
    let spellings = [ip.to_string(), format!("{ip:?}")];
    spellings.iter().any(|s| text.contains(s.as_str()))
        || text
            .split(|c: char| !(c.is_ascii_hexdigit() || c == ':' || c == '.'))
            .filter_map(|s| s.parse::<IpAddr>().ok())
            .any(|named| named.to_canonical() == ip)
}

/// Query strings: any string decodes, every reader records an error
/// rather than panicking, and accepted pages stay in range.
#[test]
fn query_strings_decode_or_refuse() {
    runner(CASES)
        .run(&prop::option::of(query_string()), |raw| {
            let mut query = Query::parse(raw.as_deref());
            let (page, per_page) = query.page();
            let _ = query.text("q");
            let _ = query.uuid("user");
            let _ = query.time("since");
            match query.finish() {
                Ok(()) => {
                    prop_assert!((1..=1_000_000).contains(&page));
                    prop_assert!((1..=crate::auth::MAX_PER_PAGE).contains(&per_page));
                }
                Err(failure) => {
                    let response = failure.into_response();
                    prop_assert_eq!(response.status().as_u16(), 422);
                    check_answer(&response)?;
                }
            }
            Ok(())
        })
        .unwrap();
}
