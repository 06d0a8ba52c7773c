//! The organisation guards (`HasOrgPermission`, `RequireOrgPermission`) on
//! a host app's own routes, driven in-process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::{App, web};
use authkit_actix::{
    Api, ApiConfig, AuthMiddleware, HasOrgPermission, Permission, RequireOrgPermission,
};
use authkit_core::store::{MemoryStore, Store};
use authkit_core::{Auth, AuthConfig};
use serde_json::Value;
use uuid::Uuid;

struct Invite;
impl Permission for Invite {
    const NAME: &'static str = "member.invite";
}

async fn api() -> Api {
    let auth = Auth::builder(AuthConfig::default(), Store::new(MemoryStore::new()))
        .build()
        .await
        .unwrap();
    Api::new(auth, ApiConfig::default()).unwrap()
}

/// A token with global `permissions` and organisation roles `orgs`.
fn token(api: &Api, permissions: &[&str], orgs: &[(&str, &str)]) -> String {
    let permissions: Vec<String> = permissions.iter().map(|p| (*p).to_owned()).collect();
    let orgs: BTreeMap<String, String> = orgs
        .iter()
        .map(|(s, r)| ((*s).to_owned(), (*r).to_owned()))
        .collect();
    let id = Uuid::now_v7();
    api.auth()
        .access_tokens()
        .issue_with_orgs(id, id, &[], &permissions, orgs, chrono::Utc::now())
        .unwrap()
        .0
}

async fn invite(guard: HasOrgPermission<Invite>) -> String {
    format!("{} {}", guard.org().slug, guard.org().role)
}

async fn roster() -> &'static str {
    "roster"
}

/// Answers (status, body) of GET `path` with an optional bearer token.
async fn get_as(api: &Api, path: &str, token: Option<&str>) -> (StatusCode, String) {
    let app = test::init_service(
        App::new().service(
            web::scope("")
                .wrap(AuthMiddleware::new(api.clone()))
                .route("/orgs/{slug}/invite", web::get().to(invite))
                .route("/no-slug", web::get().to(invite))
                .service(
                    web::scope("/teams/{team}")
                        .wrap(RequireOrgPermission::new("member.view").param("team"))
                        .route("/roster", web::get().to(roster)),
                ),
        ),
    )
    .await;
    let mut request = TestRequest::get().uri(path);
    if let Some(token) = token {
        request = request.insert_header(("authorization", format!("Bearer {token}")));
    }
    let response = test::call_service(&app, request.to_request()).await;
    let status = response.status();
    let body = test::read_body(response).await;
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn code(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn the_extractor_checks_the_org_of_the_path() {
    let api = api().await;
    let admin = token(&api, &[], &[("acme", "ADMIN"), ("globex", "MEMBER")]);
    assert_eq!(
        get_as(&api, "/orgs/acme/invite", Some(&admin)).await,
        (StatusCode::OK, "acme ADMIN".to_owned())
    );
    let (status, body) = get_as(&api, "/orgs/globex/invite", Some(&admin)).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let (status, body) = get_as(&api, "/orgs/initech/invite", Some(&admin)).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, body) = get_as(&api, "/orgs/acme/invite", None).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "token_invalid")
    );
    let (status, _) = get_as(&api, "/no-slug", Some(&admin)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[actix_web::test]
async fn global_permissions_never_satisfy_an_org_guard() {
    let api = api().await;
    let superuser = token(&api, &["member.invite", "member.view"], &[]);
    let (status, body) = get_as(&api, "/orgs/acme/invite", Some(&superuser)).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, _) = get_as(&api, "/teams/acme/roster", Some(&superuser)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn the_middleware_reads_the_named_segment() {
    let api = api().await;
    let member = token(&api, &[], &[("acme", "MEMBER")]);
    assert_eq!(
        get_as(&api, "/teams/acme/roster", Some(&member)).await,
        (StatusCode::OK, "roster".to_owned())
    );
    let (status, body) = get_as(&api, "/teams/globex/roster", Some(&member)).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let ghost = token(&api, &[], &[("acme", "GHOST")]);
    let (status, body) = get_as(&api, "/teams/acme/roster", Some(&ghost)).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let (status, _) = get_as(&api, "/teams/acme/roster", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
