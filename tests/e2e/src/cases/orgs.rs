//! Organisations over HTTP: creation, members, invitations, roles, the
//! last-owner rule, cross-organisation access and scopes that never bleed.

use std::sync::Arc;

use authkit_core::AuthConfig;
use authkit_core::store::UserUpdate;
use http::Method;
use serde_json::{Value, json};

use crate::{Factory, Harness, Options, PASSWORD};

fn access(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

impl Harness {
    /// A fresh pair for `pair`'s session (new memberships in the token).
    async fn refreshed(&self, pair: &Value) -> Value {
        let r = self
            .post(
                "/token/refresh",
                json!({"refresh_token": pair["refresh_token"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()
    }

    /// Creates the organisation `slug` as `owner`.
    async fn org(&self, owner: &Value, slug: &str) {
        let r = self
            .call(
                Method::POST,
                "/orgs",
                access(owner),
                Some(json!({"name": format!("{slug} Ünïcode"), "slug": slug})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }

    /// Invites `email` to `slug` as `role` and answers the emailed token.
    async fn invite(&self, by: &Value, slug: &str, email: &str, role: &str) -> String {
        let r = self
            .call(
                Method::POST,
                &format!("/orgs/{slug}/invites"),
                access(by),
                Some(json!({"email": email, "role": role})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        self.link_token(&email.to_lowercase())
    }

    /// Registers and signs in `email` without a verification mail (the
    /// service does not require one here); `verified` marks the address
    /// proven in the store.
    async fn member_account(&self, email: &str, verified: bool) -> Value {
        let r = self
            .post("/register", json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        if verified {
            let users = &self.auth.store().users;
            let parsed = authkit_core::email::Email::parse(email).unwrap();
            let user = users.user_by_email(&parsed).await.unwrap().unwrap();
            users
                .update_user(user.id, &UserUpdate::EmailVerified, chrono::Utc::now())
                .await
                .unwrap();
        }
        self.login(email, PASSWORD).await
    }

    async fn accept(&self, who: &Value, token: &str) -> crate::Reply {
        self.call(
            Method::POST,
            "/invites/accept",
            access(who),
            Some(json!({"token": token})),
        )
        .await
    }
}

/// The whole life of an organisation: create, list, view, rename, invite,
/// accept, roles (with the owner rules), removal, leaving.
pub async fn organisations_members_and_invites(factory: &Factory) {
    let h = Harness::default(factory).await;
    let ann = h.signed_in("ann@example.com").await;
    let bob = h.signed_in("bob@example.com").await;

    let r = h
        .call(
            Method::POST,
            "/orgs",
            access(&ann),
            Some(json!({"name": "  Acme 🚀 ", "slug": "acme"})),
        )
        .await;
    assert_eq!(r.status, 201);
    let created = r.json();
    assert_eq!(
        (&created["slug"], &created["name"], &created["role"]),
        (&json!("acme"), &json!("Acme 🚀"), &json!("OWNER"))
    );
    assert!(
        created["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("member.invite"))
    );
    let again = h
        .call(
            Method::POST,
            "/orgs",
            access(&bob),
            Some(json!({"name": "Other", "slug": "acme"})),
        )
        .await;
    again.assert_problem(409, "slug_taken");
    let bad = h
        .call(
            Method::POST,
            "/orgs",
            access(&bob),
            Some(json!({"name": "", "slug": "Not A Slug"})),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.json()["errors"].as_array().unwrap().len(), 2);
    h.call(
        Method::POST,
        "/orgs",
        access(&bob),
        Some(json!({"name": 5})),
    )
    .await
    .assert_problem(422, "validation_failed");
    h.post("/orgs", json!({"name": "x", "slug": "xyz"}))
        .await
        .assert_problem(401, "token_invalid");

    let mine = h.get("/orgs", access(&ann)).await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["role"], "OWNER");
    assert_eq!(h.get("/orgs", access(&bob)).await.json(), json!([]));
    let renamed = h
        .call(
            Method::PATCH,
            "/orgs/acme",
            access(&ann),
            Some(json!({"name": "Acme Corp"})),
        )
        .await;
    assert_eq!(renamed.json()["name"], "Acme Corp");
    assert_eq!(
        h.get("/orgs/acme", access(&ann)).await.json()["name"],
        "Acme Corp"
    );

    // Invite bob; the mail names the organisation; bob accepts.
    let token = h.invite(&ann, "acme", "BOB@example.com", "MEMBER").await;
    assert!(
        h.mailer
            .last_to("bob@example.com")
            .unwrap()
            .text
            .contains("Acme Corp")
    );
    let joined = h.accept(&bob, &token).await;
    assert_eq!(joined.status, 200);
    assert_eq!(joined.json()["membership"]["role"], "MEMBER");
    h.accept(&bob, &token)
        .await
        .assert_problem(401, "token_invalid");
    // The membership reaches bob's token at the next refresh.
    let before = h.introspect(access(&bob)).await;
    assert!(before.json().get("orgs").is_none());
    let bob = h.refreshed(&bob).await;
    let claims = decode_claims(access(&bob));
    assert_eq!(claims["orgs"], json!({"acme": "MEMBER"}));
    assert!(
        !claims["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("org.view")),
        "organisation permissions never join the global ones"
    );

    let members = h.get("/orgs/acme/members", access(&bob)).await;
    assert_eq!(members.status, 200);
    let members = members.json();
    assert_eq!(members.as_array().unwrap().len(), 2);
    assert_eq!(members[1]["email"], "bob@example.com");
    let bob_id = members[1]["user_id"].as_str().unwrap().to_owned();
    let ann_id = members[0]["user_id"].as_str().unwrap().to_owned();

    // A MEMBER lacks the management permissions.
    for (method, path, body) in [
        (
            Method::POST,
            "/orgs/acme/invites".to_owned(),
            Some(json!({"email": "x@example.com", "role": "MEMBER"})),
        ),
        (Method::GET, "/orgs/acme/invites".to_owned(), None),
        (
            Method::PATCH,
            "/orgs/acme".to_owned(),
            Some(json!({"name": "Mine"})),
        ),
        (
            Method::PATCH,
            format!("/orgs/acme/members/{ann_id}"),
            Some(json!({"role": "MEMBER"})),
        ),
        (Method::DELETE, format!("/orgs/acme/members/{ann_id}"), None),
    ] {
        h.call(method, &path, access(&bob), body)
            .await
            .assert_problem(403, "forbidden");
    }

    // Promote bob to ADMIN: he may invite, but not grant OWNER nor touch
    // the owner.
    let r = h
        .call(
            Method::PATCH,
            &format!("/orgs/acme/members/{bob_id}"),
            access(&ann),
            Some(json!({"role": "ADMIN"})),
        )
        .await;
    assert_eq!(r.json()["role"], "ADMIN");
    h.call(
        Method::PATCH,
        &format!("/orgs/acme/members/{bob_id}"),
        access(&ann),
        Some(json!({"role": "EMPEROR"})),
    )
    .await
    .assert_problem(422, "validation_failed");
    h.invite(&bob, "acme", "cy@example.com", "ADMIN").await;
    h.call(
        Method::POST,
        "/orgs/acme/invites",
        access(&bob),
        Some(json!({"email": "cy@example.com", "role": "OWNER"})),
    )
    .await
    .assert_problem(403, "forbidden");
    h.call(
        Method::DELETE,
        &format!("/orgs/acme/members/{ann_id}"),
        access(&bob),
        None,
    )
    .await
    .assert_problem(403, "forbidden");
    h.call(
        Method::POST,
        "/orgs/acme/invites",
        access(&bob),
        Some(json!({"email": "ann@example.com", "role": "MEMBER"})),
    )
    .await
    .assert_problem(409, "already_member");

    // Pending invitations are listed and withdrawn.
    let pending = h.get("/orgs/acme/invites", access(&bob)).await.json();
    assert_eq!(pending.as_array().unwrap().len(), 1);
    let id = pending[0]["id"].as_str().unwrap();
    assert!(pending[0].get("token_hash").is_none());
    let path = format!("/orgs/acme/invites/{id}");
    assert_eq!(
        h.call(Method::DELETE, &path, access(&bob), None)
            .await
            .status,
        204
    );
    h.call(Method::DELETE, &path, access(&bob), None)
        .await
        .assert_problem(404, "not_found");
    let cy = h.signed_in("cy@example.com").await;
    h.accept(&cy, &h.link_token("cy@example.com"))
        .await
        .assert_problem(401, "token_invalid");

    // The last owner can be neither demoted, removed, nor leave.
    let me = format!("/orgs/acme/members/{ann_id}");
    h.call(
        Method::PATCH,
        &me,
        access(&ann),
        Some(json!({"role": "ADMIN"})),
    )
    .await
    .assert_problem(409, "last_owner");
    h.call(Method::DELETE, &me, access(&ann), None)
        .await
        .assert_problem(409, "last_owner");
    h.call(Method::POST, "/orgs/acme/leave", access(&ann), None)
        .await
        .assert_problem(409, "last_owner");
    // With a second owner, the first may step down.
    h.call(
        Method::PATCH,
        &format!("/orgs/acme/members/{bob_id}"),
        access(&ann),
        Some(json!({"role": "OWNER"})),
    )
    .await;
    let r = h
        .call(
            Method::PATCH,
            &me,
            access(&ann),
            Some(json!({"role": "MEMBER"})),
        )
        .await;
    assert_eq!(r.json()["role"], "MEMBER");
    // Removal and leaving.
    assert_eq!(
        h.call(Method::POST, "/orgs/acme/leave", access(&ann), None)
            .await
            .status,
        204
    );
    h.get("/orgs/acme", access(&ann))
        .await
        .assert_problem(404, "not_found");
    h.call(
        Method::DELETE,
        &format!("/orgs/acme/members/{}", uuid::Uuid::now_v7()),
        access(&bob),
        None,
    )
    .await
    .assert_problem(404, "not_found");
    h.call(
        Method::DELETE,
        "/orgs/acme/members/not-a-uuid",
        access(&bob),
        None,
    )
    .await
    .assert_problem(404, "not_found");

    // Every organisation action is audited with actor and subject.
    let audit = h.get("/me/audit?per_page=100", access(&bob)).await.json();
    let names: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for name in [
        "invite_accepted",
        "member_role_changed",
        "member_invited",
        "invite_revoked",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let changed = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "member_role_changed")
        .unwrap();
    assert_eq!(changed["user_id"], bob_id.as_str());
    assert_eq!(changed["data"]["actor_id"], ann_id.as_str());
    let export = h.get("/me/export", access(&bob)).await.json();
    assert_eq!(export["memberships"][0]["slug"], "acme");
}

/// A member of one organisation cannot see another (404), global
/// permissions never open an organisation, and organisation roles never
/// open the admin API.
pub async fn cross_org_access_and_scopes_never_bleed(factory: &Factory) {
    let h = Harness::default(factory).await;
    let ann = h.signed_in("ann@example.com").await;
    let bob = h.signed_in("bob@example.com").await;
    h.org(&ann, "alpha").await;
    h.org(&bob, "bravo").await;
    let ann = h.refreshed(&ann).await;
    let bob_id = h.get("/me", access(&bob)).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (method, path, body) in [
        (Method::GET, "/orgs/bravo".to_owned(), None),
        (Method::GET, "/orgs/bravo/members".to_owned(), None),
        (Method::GET, "/orgs/bravo/invites".to_owned(), None),
        (
            Method::PATCH,
            "/orgs/bravo".to_owned(),
            Some(json!({"name": "Mine"})),
        ),
        (
            Method::POST,
            "/orgs/bravo/invites".to_owned(),
            Some(json!({"email": "e@example.com", "role": "MEMBER"})),
        ),
        (
            Method::DELETE,
            format!("/orgs/bravo/members/{bob_id}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/orgs/bravo/members/{bob_id}"),
            Some(json!({"role": "MEMBER"})),
        ),
        (Method::POST, "/orgs/bravo/leave".to_owned(), None),
        (Method::GET, "/orgs/no-such-org".to_owned(), None),
    ] {
        h.call(method, &path, access(&ann), body)
            .await
            .assert_problem(404, "not_found");
    }
    // An organisation OWNER is nobody in the admin API.
    for path in ["/admin/users", "/admin/audit"] {
        h.get(path, access(&ann))
            .await
            .assert_problem(403, "forbidden");
    }
    // A system administrator who is not a member still gets 404.
    h.auth
        .admin()
        .create_admin(authkit_core::NewAdmin::new("root@example.com", PASSWORD))
        .await
        .unwrap();
    let root = h.login("root@example.com", PASSWORD).await;
    h.get("/orgs/bravo/members", access(&root))
        .await
        .assert_problem(404, "not_found");
    assert_eq!(h.get("/admin/users", access(&root)).await.status, 200);
}

/// An invitation works once, only for the verified account of the invited
/// address; concurrent acceptances make one membership.
pub async fn invites_are_bound_to_the_invited_email(factory: &Factory) {
    let options = Options {
        auth: AuthConfig::builder()
            .account(|a| a.require_email_verification(false))
            .build()
            .unwrap(),
        ..Options::default()
    };
    let h = Arc::new(Harness::start(factory, options).await);
    let ann = h.member_account("ann@example.com", true).await;
    h.org(&ann, "acme").await;
    let token = h.invite(&ann, "acme", "cy@example.com", "MEMBER").await;

    let dan = h.member_account("dan@example.com", true).await;
    h.accept(&dan, &token)
        .await
        .assert_problem(403, "invite_email_mismatch");
    // Cy signs up without proving the address: refused until it is.
    let cy = h.member_account("cy@example.com", false).await;
    h.accept(&cy, &token)
        .await
        .assert_problem(403, "email_not_verified");
    h.accept(&cy, "forged-token")
        .await
        .assert_problem(401, "token_invalid");
    h.accept(&cy, &"x".repeat(10_000))
        .await
        .assert_problem(401, "token_invalid");
    h.call(
        Method::POST,
        "/invites/accept",
        access(&cy),
        Some(json!({"token": 7})),
    )
    .await
    .assert_problem(422, "validation_failed");
    let users = &h.auth.store().users;
    let email = authkit_core::email::Email::parse("cy@example.com").unwrap();
    let proven = users.user_by_email(&email).await.unwrap().unwrap();
    users
        .update_user(proven.id, &UserUpdate::EmailVerified, chrono::Utc::now())
        .await
        .unwrap();
    let cy = h.login("cy@example.com", PASSWORD).await;

    // Eight concurrent acceptances: one joins.
    let replies = concurrent_accepts(&h, &cy, &token, 8).await;
    assert_eq!(
        replies.iter().filter(|s| **s == 200).count(),
        1,
        "{replies:?}"
    );
    assert!(
        replies.iter().all(|s| *s == 200 || *s == 401),
        "{replies:?}"
    );
    assert_eq!(
        h.get("/orgs/acme/members", access(&ann))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Invitations expire.
    let late = h.invite(&ann, "acme", "eve@example.com", "MEMBER").await;
    h.member_account("eve@example.com", true).await;
    h.clock.advance(chrono::Duration::days(8));
    let eve = h.login("eve@example.com", PASSWORD).await;
    h.accept(&eve, &late)
        .await
        .assert_problem(401, "token_invalid");
}

/// Runs `n` acceptances of `token` by `who` at once; their statuses.
async fn concurrent_accepts(h: &Arc<Harness>, who: &Value, token: &str, n: usize) -> Vec<u16> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (h, who, token) = (h.clone(), who.clone(), token.to_owned());
            tokio::spawn(async move { h.accept(&who, &token).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

/// The claims of an access token, unverified (the test only reads them).
pub(crate) fn decode_claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
