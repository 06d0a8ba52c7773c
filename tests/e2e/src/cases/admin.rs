//! The admin API over HTTP: global permissions, account management, locks
//! that end sessions at once, roles, sessions of any account, the audit log.

use authkit_core::NewAdmin;
use authkit_core::roles::RoleMap;
use http::Method;
use serde_json::{Value, json};

use crate::{Factory, Harness, Options, PASSWORD};

fn access(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

/// A `SYSTEM_ADMIN` made through the bootstrap call, signed in.
async fn admin(h: &Harness) -> Value {
    h.auth
        .admin()
        .create_admin(NewAdmin::new("root@example.com", PASSWORD))
        .await
        .unwrap();
    h.login("root@example.com", PASSWORD).await
}

async fn id_of(h: &Harness, pair: &Value) -> String {
    h.get("/me", access(pair)).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every admin route answers 403 `forbidden` without its global
/// permission, and 401 without a token; STAFF reads but cannot write.
pub async fn admin_routes_need_global_permissions(factory: &Factory) {
    let h = Harness::default(factory).await;
    let user = h.signed_in("ann@example.com").await;
    let id = id_of(&h, &user).await;
    let root = admin(&h).await;
    let routes = [
        (Method::GET, "/admin/users".to_owned(), None),
        (Method::GET, format!("/admin/users/{id}"), None),
        (Method::POST, format!("/admin/users/{id}/lock"), None),
        (Method::POST, format!("/admin/users/{id}/unlock"), None),
        (Method::POST, format!("/admin/users/{id}/deactivate"), None),
        (Method::POST, format!("/admin/users/{id}/reactivate"), None),
        (
            Method::POST,
            format!("/admin/users/{id}/force-password-change"),
            None,
        ),
        (
            Method::PUT,
            format!("/admin/users/{id}/roles"),
            Some(json!({"roles": ["SYSTEM_ADMIN"]})),
        ),
        (Method::GET, format!("/admin/users/{id}/sessions"), None),
        (Method::DELETE, format!("/admin/users/{id}/sessions"), None),
        (
            Method::DELETE,
            format!("/admin/users/{id}/sessions/{id}"),
            None,
        ),
        (Method::GET, "/admin/audit".to_owned(), None),
    ];
    for (method, path, body) in &routes {
        h.call(method.clone(), path, access(&user), body.clone())
            .await
            .assert_problem(403, "forbidden");
        let r = h.send(method.clone(), path, &[], "").await;
        r.assert_problem(401, "token_invalid");
    }
    // Even a malformed body is refused for the permission first.
    h.call(
        Method::PUT,
        &format!("/admin/users/{id}/roles"),
        access(&user),
        Some(json!({"roles": 5})),
    )
    .await
    .assert_problem(403, "forbidden");

    // STAFF holds internal.users.read only.
    let r = h
        .call(
            Method::PUT,
            &format!("/admin/users/{id}/roles"),
            access(&root),
            Some(json!({"roles": ["STAFF"]})),
        )
        .await;
    assert_eq!(r.json()["roles"], json!(["STAFF"]));
    let staff = h.login("ann@example.com", PASSWORD).await;
    assert_eq!(h.get("/admin/users", access(&staff)).await.status, 200);
    h.call(
        Method::POST,
        &format!("/admin/users/{id}/lock"),
        access(&staff),
        None,
    )
    .await
    .assert_problem(403, "forbidden");
    h.get("/admin/audit", access(&staff))
        .await
        .assert_problem(403, "forbidden");
}

/// Search, view, roles (fresh in /me, in the token after refresh), forced
/// password change, deactivation, sessions, and the audit log.
pub async fn admin_manages_accounts(factory: &Factory) {
    let h = Harness::default(factory).await;
    let root = admin(&h).await;
    for name in ["amy", "ben", "cat"] {
        h.signed_in(&format!("{name}@example.com")).await;
    }
    let ben = h.login("ben@example.com", PASSWORD).await;
    let ben_id = id_of(&h, &ben).await;

    let page = h.get("/admin/users?per_page=2", access(&root)).await.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        (&page["page"], &page["per_page"], &page["next_page"]),
        (&json!(1), &json!(2), &json!(2))
    );
    let last = h
        .get("/admin/users?per_page=2&page=2", access(&root))
        .await
        .json();
    assert_eq!(last["items"].as_array().unwrap().len(), 2);
    assert_eq!(last["next_page"], json!(null));
    let found = h
        .get("/admin/users?q=BEN%40example", access(&root))
        .await
        .json();
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(found["items"][0]["id"], ben_id.as_str());
    assert!(found["items"][0].get("password_hash").is_none());
    for bad in ["page=0", "per_page=101", "q=%00"] {
        h.get(&format!("/admin/users?{bad}"), access(&root))
            .await
            .assert_problem(422, "validation_failed");
    }
    let one = h
        .get(&format!("/admin/users/{ben_id}"), access(&root))
        .await
        .json();
    assert_eq!(
        (&one["email"], &one["memberships"]),
        (&json!("ben@example.com"), &json!([]))
    );
    for path in [
        format!("/admin/users/{}", uuid::Uuid::now_v7()),
        "/admin/users/not-a-uuid".to_owned(),
    ] {
        h.get(&path, access(&root))
            .await
            .assert_problem(404, "not_found");
    }

    // Roles: validated, fresh in /me, in the token at the next refresh.
    let roles = format!("/admin/users/{ben_id}/roles");
    h.call(
        Method::PUT,
        &roles,
        access(&root),
        Some(json!({"roles": ["EMPEROR"]})),
    )
    .await
    .assert_problem(422, "validation_failed");
    h.call(
        Method::PUT,
        &roles,
        access(&root),
        Some(json!({"roles": "STAFF"})),
    )
    .await
    .assert_problem(422, "validation_failed");
    let r = h
        .call(
            Method::PUT,
            &roles,
            access(&root),
            Some(json!({"roles": ["DATA_ADMIN", "DATA_ADMIN"]})),
        )
        .await;
    assert_eq!(r.json()["roles"], json!(["DATA_ADMIN"]));
    let me = h.get("/me", access(&ben)).await.json();
    assert!(
        me["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("internal.audit.read"))
    );
    h.get("/admin/audit", access(&ben))
        .await
        .assert_problem(403, "forbidden");
    let ben = h
        .post(
            "/token/refresh",
            json!({"refresh_token": ben["refresh_token"]}),
        )
        .await
        .json();
    assert_eq!(h.get("/admin/audit", access(&ben)).await.status, 200);
    // DATA_ADMIN may not hand out SYSTEM_ADMIN (no roles.assign at all).
    h.call(
        Method::PUT,
        &roles,
        access(&ben),
        Some(json!({"roles": ["SYSTEM_ADMIN"]})),
    )
    .await
    .assert_problem(403, "forbidden");

    // Sessions of any account: list, revoke one, revoke all.
    let second = h.login("ben@example.com", PASSWORD).await;
    let sessions = h
        .get(&format!("/admin/users/{ben_id}/sessions"), access(&root))
        .await
        .json();
    assert_eq!(
        sessions.as_array().unwrap().len(),
        3,
        "two logins and a sign-up"
    );
    let sid = second["session_id"].as_str().unwrap();
    let one = format!("/admin/users/{ben_id}/sessions/{sid}");
    assert_eq!(
        h.call(Method::DELETE, &one, access(&root), None)
            .await
            .status,
        204
    );
    h.call(Method::DELETE, &one, access(&root), None)
        .await
        .assert_problem(404, "not_found");
    h.post(
        "/token/refresh",
        json!({"refresh_token": second["refresh_token"]}),
    )
    .await
    .assert_problem(401, "token_invalid");
    let all = h
        .call(
            Method::DELETE,
            &format!("/admin/users/{ben_id}/sessions"),
            access(&root),
            None,
        )
        .await;
    assert_eq!(all.json()["revoked"], 2);
    h.post(
        "/token/refresh",
        json!({"refresh_token": ben["refresh_token"]}),
    )
    .await
    .assert_problem(401, "token_invalid");

    // Forced password change, deactivation and reactivation.
    let r = h
        .call(
            Method::POST,
            &format!("/admin/users/{ben_id}/force-password-change"),
            access(&root),
            None,
        )
        .await;
    assert_eq!(r.json()["must_change_password"], true);
    h.post(
        "/token",
        json!({"email": "ben@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(403, "password_change_required");
    let amy = h.login("amy@example.com", PASSWORD).await;
    let amy_id = id_of(&h, &amy).await;
    let r = h
        .call(
            Method::POST,
            &format!("/admin/users/{amy_id}/deactivate"),
            access(&root),
            None,
        )
        .await;
    assert_eq!(r.json()["is_active"], false);
    h.post(
        "/token/refresh",
        json!({"refresh_token": amy["refresh_token"]}),
    )
    .await
    .assert_problem(401, "token_invalid");
    h.post(
        "/token",
        json!({"email": "amy@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(403, "account_inactive");
    h.call(
        Method::POST,
        &format!("/admin/users/{amy_id}/reactivate"),
        access(&root),
        None,
    )
    .await;
    h.login("amy@example.com", PASSWORD).await;

    // The audit log: filters, actor and subject, pagination.
    let audit = h
        .get(
            &format!("/admin/audit?user={ben_id}&event=roles_assigned"),
            access(&root),
        )
        .await
        .json();
    let items = audit["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["user_id"], ben_id.as_str());
    assert_eq!(
        items[0]["data"]["actor_id"],
        id_of(&h, &root).await.as_str()
    );
    assert_eq!(items[0]["data"]["to"], json!(["DATA_ADMIN"]));
    let page = h.get("/admin/audit?per_page=3", access(&root)).await.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(page["next_page"], 2);
    let future = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let none = h
        .get(
            &format!("/admin/audit?since={}", future.replace('+', "%2B")),
            access(&root),
        )
        .await
        .json();
    assert_eq!(none["items"], json!([]));
    for bad in ["user=nope", "since=yesterday", "until=2026-13-01T00:00:00Z"] {
        h.get(&format!("/admin/audit?{bad}"), access(&root))
            .await
            .assert_problem(422, "validation_failed");
    }
}

/// An admin lock ends every session at once: refresh fails, introspection
/// answers inactive, login answers `account_locked`; unlock restores.
pub async fn admin_lock_kills_sessions_immediately(factory: &Factory) {
    let h = Harness::default(factory).await;
    let root = admin(&h).await;
    let root_id = id_of(&h, &root).await;
    let eve = h.signed_in("eve@example.com").await;
    let eve_id = id_of(&h, &eve).await;
    let active = h.introspect(access(&eve)).await.json();
    assert_eq!(active["active"], true);

    let lock = format!("/admin/users/{eve_id}/lock");
    for bad in [
        json!({"until": "tomorrow"}),
        json!({"until": 5}),
        json!({"until": "2001-01-01T00:00:00Z"}),
    ] {
        h.call(Method::POST, &lock, access(&root), Some(bad))
            .await
            .assert_problem(422, "validation_failed");
    }
    h.call(
        Method::POST,
        &format!("/admin/users/{root_id}/lock"),
        access(&root),
        None,
    )
    .await
    .assert_problem(422, "validation_failed");
    let r = h.call(Method::POST, &lock, access(&root), None).await;
    assert_eq!(r.status, 200);
    assert!(
        r.json()["locked_until"]
            .as_str()
            .unwrap()
            .starts_with("9999-12-31")
    );

    let inactive = h.introspect(access(&eve)).await.json();
    assert_eq!(inactive, json!({"active": false}));
    h.post(
        "/token/refresh",
        json!({"refresh_token": eve["refresh_token"]}),
    )
    .await
    .assert_problem(401, "token_invalid");
    h.post(
        "/token",
        json!({"email": "eve@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(403, "account_locked");
    assert!(
        h.get(&format!("/admin/users/{eve_id}/sessions"), access(&root))
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );

    let r = h
        .call(
            Method::POST,
            &format!("/admin/users/{eve_id}/unlock"),
            access(&root),
            None,
        )
        .await;
    assert_eq!(r.json()["locked_until"], json!(null));
    h.login("eve@example.com", PASSWORD).await;

    // A lock with an end.
    let until = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let r = h
        .call(
            Method::POST,
            &lock,
            access(&root),
            Some(json!({"until": until})),
        )
        .await;
    assert_eq!(r.status, 200);
    h.post(
        "/token",
        json!({"email": "eve@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(403, "account_locked");
    let events = h
        .get(
            &format!("/admin/audit?user={eve_id}&event=user_locked_by_admin"),
            access(&root),
        )
        .await
        .json();
    assert_eq!(events["items"].as_array().unwrap().len(), 2);
}

/// The caller's `/me` and the host's own route both answer 200, or both
/// 401 `token_invalid`.
async fn assert_access(h: &Harness, pair: &Value, live: bool) {
    let me = h.get("/me", access(pair)).await;
    let host = h.host_route(access(pair)).await;
    if live {
        assert_eq!((me.status, host.status), (200, 200), "{me:?} {host:?}");
    } else {
        me.assert_problem(401, "token_invalid");
        host.assert_problem(401, "token_invalid");
    }
}

/// An administrator's session revocation ends access at once, as logout
/// does: the sessions' access tokens are refused on `/me` and on the
/// host's own routes (not only at introspection), one session or all.
pub async fn admin_session_revocation_ends_access_at_once(factory: &Factory) {
    let h = Harness::default(factory).await;
    let root = admin(&h).await;
    let phone = h.signed_in("ann@example.com").await;
    let ann = id_of(&h, &phone).await;
    let laptop = h.login("ann@example.com", PASSWORD).await;
    let tablet = h.login("ann@example.com", PASSWORD).await;
    for pair in [&phone, &laptop, &tablet] {
        assert_access(&h, pair, true).await;
    }
    assert_eq!(h.host_route(access(&phone)).await.body, ann.as_bytes());

    let sid = phone["session_id"].as_str().unwrap();
    let one = format!("/admin/users/{ann}/sessions/{sid}");
    let r = h.call(Method::DELETE, &one, access(&root), None).await;
    assert_eq!(r.status, 204);
    assert_access(&h, &phone, false).await;
    assert_access(&h, &laptop, true).await;
    let inactive = h.introspect(access(&phone)).await.json();
    assert_eq!(inactive, json!({"active": false}));

    let all = h
        .call(
            Method::DELETE,
            &format!("/admin/users/{ann}/sessions"),
            access(&root),
            None,
        )
        .await;
    assert_eq!(all.json()["revoked"], 2);
    for pair in [&laptop, &tablet] {
        assert_access(&h, pair, false).await;
    }
    assert_access(&h, &root, true).await;
    // A new login is a new session, unaffected.
    let fresh = h.login("ann@example.com", PASSWORD).await;
    assert_access(&h, &fresh, true).await;
}

/// Admin writes are authorised against the administrator's current roles:
/// a demoted administrator's still-valid token changes nothing, and an
/// administrator without `internal.roles.assign` cannot act on an account
/// holding permissions they lack.
pub async fn admin_writes_use_the_current_roles(factory: &Factory) {
    let roles =
        RoleMap::default().with_role("SUPPORT", ["internal.users.read", "internal.users.write"]);
    let h = Harness::start(
        factory,
        Options {
            roles,
            ..Options::default()
        },
    )
    .await;
    let root = admin(&h).await;
    let root_id = id_of(&h, &root).await;
    let ann = h.signed_in("ann@example.com").await;
    let ann_id = id_of(&h, &ann).await;
    let eve = h.signed_in("eve@example.com").await;
    let eve_id = id_of(&h, &eve).await;
    let eve_roles = format!("/admin/users/{eve_id}/roles");
    let set_roles = |roles: Value| {
        h.call(
            Method::PUT,
            &eve_roles,
            access(&root),
            Some(json!({ "roles": roles })),
        )
    };
    assert_eq!(set_roles(json!(["SYSTEM_ADMIN"])).await.status, 200);
    let eve = h.login("eve@example.com", PASSWORD).await;
    assert_eq!(set_roles(json!(["STAFF"])).await.status, 200);

    // Eve's token still claims SYSTEM_ADMIN; every write is refused.
    let writes = [
        (Method::POST, format!("/admin/users/{ann_id}/lock"), None),
        (Method::POST, format!("/admin/users/{ann_id}/unlock"), None),
        (
            Method::POST,
            format!("/admin/users/{ann_id}/deactivate"),
            None,
        ),
        (
            Method::POST,
            format!("/admin/users/{ann_id}/reactivate"),
            None,
        ),
        (
            Method::POST,
            format!("/admin/users/{ann_id}/force-password-change"),
            None,
        ),
        (
            Method::PUT,
            format!("/admin/users/{eve_id}/roles"),
            Some(json!({"roles": ["SYSTEM_ADMIN"]})),
        ),
        (
            Method::DELETE,
            format!("/admin/users/{ann_id}/sessions"),
            None,
        ),
    ];
    for (method, path, body) in &writes {
        h.call(method.clone(), path, access(&eve), body.clone())
            .await
            .assert_problem(403, "forbidden");
    }
    assert_access(&h, &ann, true).await;
    let eve_now = h
        .get(&format!("/admin/users/{eve_id}"), access(&root))
        .await
        .json();
    assert_eq!(eve_now["roles"], json!(["STAFF"]));

    // SUPPORT writes accounts but cannot touch the SYSTEM_ADMIN.
    assert_eq!(set_roles(json!(["SUPPORT"])).await.status, 200);
    let support = h.login("eve@example.com", PASSWORD).await;
    for action in [
        "lock",
        "unlock",
        "deactivate",
        "reactivate",
        "force-password-change",
    ] {
        h.call(
            Method::POST,
            &format!("/admin/users/{root_id}/{action}"),
            access(&support),
            None,
        )
        .await
        .assert_problem(403, "forbidden");
    }
    h.call(
        Method::DELETE,
        &format!("/admin/users/{root_id}/sessions"),
        access(&support),
        None,
    )
    .await
    .assert_problem(403, "forbidden");
    assert_access(&h, &root, true).await;
    let r = h
        .call(
            Method::POST,
            &format!("/admin/users/{ann_id}/lock"),
            access(&support),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_access(&h, &ann, false).await;
}

/// An administrator's lock survives a password reset: the lock records
/// its reason and actor, a reset request answers 202 and mails nothing, a
/// link mailed before the lock sets the password but the account stays
/// locked until an unlock.
pub async fn admin_lock_survives_a_password_reset(factory: &Factory) {
    let h = Harness::default(factory).await;
    let root = admin(&h).await;
    let root_id = id_of(&h, &root).await;
    let eve = h.signed_in("eve@example.com").await;
    let eve_id = id_of(&h, &eve).await;
    h.post("/password/reset", json!({"email": "eve@example.com"}))
        .await;
    h.auth.background_idle().await;
    let early_link = h.link_token("eve@example.com");

    let lock = format!("/admin/users/{eve_id}/lock");
    for bad in [
        json!({"reason": 5}),
        json!({"reason": "x".repeat(501)}),
        json!({"reason": "tab\tseparated"}),
    ] {
        h.call(Method::POST, &lock, access(&root), Some(bad))
            .await
            .assert_problem(422, "validation_failed");
    }
    let r = h
        .call(
            Method::POST,
            &lock,
            access(&root),
            Some(json!({"reason": " chargeback 💳 "})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let locked = r.json();
    assert_eq!(locked["admin_lock"]["reason"], "chargeback 💳");
    assert_eq!(locked["admin_lock"]["actor_id"], root_id.as_str());
    assert!(
        locked["admin_lock"]["until"]
            .as_str()
            .unwrap()
            .starts_with("9999-12-31")
    );
    assert_eq!(locked["locked_until"], locked["admin_lock"]["until"]);

    let mails = h.mailer.count();
    let r = h
        .post("/password/reset", json!({"email": "eve@example.com"}))
        .await;
    assert_eq!(r.status, 202, "a locked account's reset answers as any");
    h.auth.background_idle().await;
    assert_eq!(h.mailer.count(), mails, "no reset mail to a locked account");

    let r = h
        .post(
            "/password/reset/confirm",
            json!({"token": early_link, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    h.post(
        "/token",
        json!({"email": "eve@example.com", "password": "a brand new passphrase"}),
    )
    .await
    .assert_problem(403, "account_locked");
    let detail = h
        .get(&format!("/admin/users/{eve_id}"), access(&root))
        .await
        .json();
    assert_eq!(detail["admin_lock"], locked["admin_lock"], "the lock stays");

    let r = h
        .call(
            Method::POST,
            &format!("/admin/users/{eve_id}/unlock"),
            access(&root),
            None,
        )
        .await;
    assert_eq!(
        (&r.json()["admin_lock"], &r.json()["locked_until"]),
        (&json!(null), &json!(null))
    );
    h.login("eve@example.com", "a brand new passphrase").await;
}
