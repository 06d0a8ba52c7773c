//! The organisation guards (`HasOrgPermission`, `RequireOrgPermission`) on
//! a host app's own routes, driven in-process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use authkit_axum::{Api, ApiConfig, AuthLayer, HasOrgPermission, Permission, RequireOrgPermission};
use authkit_core::store::{MemoryStore, Store};
use authkit_core::{Auth, AuthConfig};
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
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

fn app(api: &Api) -> Router {
    let layered = Router::new()
        .route("/teams/{team}/roster", get(|| async { "roster" }))
        .route_layer(RequireOrgPermission::layer("member.view").param("team"));
    Router::new()
        .route(
            "/orgs/{slug}/invite",
            get(|g: HasOrgPermission<Invite>| async move {
                format!("{} {}", g.org().slug, g.org().role)
            }),
        )
        .route(
            "/no-slug",
            get(|_: HasOrgPermission<Invite>| async { "unreachable" }),
        )
        .merge(layered)
        .layer(AuthLayer::new(api.clone()))
}

async fn get_as(app: &Router, path: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn code(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_extractor_checks_the_org_of_the_path() {
    let api = api().await;
    let app = app(&api);
    let admin = token(&api, &[], &[("acme", "ADMIN"), ("globex", "MEMBER")]);
    assert_eq!(
        get_as(&app, "/orgs/acme/invite", Some(&admin)).await,
        (StatusCode::OK, "acme ADMIN".to_owned())
    );
    let (status, body) = get_as(&app, "/orgs/globex/invite", Some(&admin)).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let (status, body) = get_as(&app, "/orgs/initech/invite", Some(&admin)).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, body) = get_as(&app, "/orgs/acme/invite", None).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "token_invalid")
    );
    // A route without the slug parameter is a wiring bug.
    let (status, _) = get_as(&app, "/no-slug", Some(&admin)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn global_permissions_never_satisfy_an_org_guard() {
    let api = api().await;
    let app = app(&api);
    let superuser = token(
        &api,
        &["member.invite", "member.view", "internal.users.write"],
        &[],
    );
    let (status, body) = get_as(&app, "/orgs/acme/invite", Some(&superuser)).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, _) = get_as(&app, "/teams/acme/roster", Some(&superuser)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_layer_reads_the_named_parameter() {
    let api = api().await;
    let app = app(&api);
    let member = token(&api, &[], &[("acme", "MEMBER")]);
    assert_eq!(
        get_as(&app, "/teams/acme/roster", Some(&member)).await,
        (StatusCode::OK, "roster".to_owned())
    );
    let (status, body) = get_as(&app, "/teams/globex/roster", Some(&member)).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let unknown_role = token(&api, &[], &[("acme", "GHOST")]);
    let (status, body) = get_as(&app, "/teams/acme/roster", Some(&unknown_role)).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let (status, _) = get_as(&app, "/teams/acme/roster", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
