//! Password re-checks of signed-in accounts (`/password/change` with a
//! token, `/me/deactivate`, `/mfa/totp/disable {password}`, `DELETE
//! /me/identities`): the login's lockout, per-account and per-IP
//! throttling, and a locked account refused.

use std::sync::Arc;
use std::time::Duration;

use authkit_core::rate_limit::{GovernorLimiter, Quota, RateAction, RateLimits};
use authkit_core::store::LockoutPolicy;
use http::Method;
use serde_json::{Value, json};

use super::mfa::{enable_totp, mfa_options};
use crate::{Factory, Harness, Options, PASSWORD, Reply};

const NEW_PASSWORD: &str = "a brand new passphrase 🔐";

/// The four routes that re-check the password, each with `password`.
async fn recheck(h: &Harness, token: &str, route: &str, password: &str) -> Reply {
    let (method, path, body) = match route {
        "change" => (
            Method::POST,
            "/password/change",
            json!({"current_password": password, "new_password": NEW_PASSWORD}),
        ),
        "deactivate" => (
            Method::POST,
            "/me/deactivate",
            json!({ "password": password }),
        ),
        "totp" => (
            Method::POST,
            "/mfa/totp/disable",
            json!({ "password": password }),
        ),
        _ => (
            Method::DELETE,
            "/me/identities",
            json!({"provider": "google", "password": password}),
        ),
    };
    h.call(method, path, token, Some(body)).await
}

const ROUTES: [&str; 4] = ["change", "deactivate", "totp", "unlink"];

fn access(pair: &Value) -> String {
    pair["access_token"].as_str().unwrap().to_owned()
}

/// Wrong passwords on every re-checking route count toward the login's
/// lockout; once locked, the right password is refused there with
/// `account_locked` (and a wrong one still looks wrong); after the lock,
/// the routes work again.
pub async fn password_rechecks_count_toward_the_lockout(factory: &Factory) {
    let mut options = mfa_options();
    options.auth.lockout = LockoutPolicy {
        max_failures: 4,
        window: chrono::Duration::minutes(15),
        lock_for: chrono::Duration::minutes(15),
    };
    let h = Harness::start(factory, options).await;
    let email = "ida@example.com";
    let pair = h.signed_in(email).await;
    enable_totp(&h, &pair).await;
    let token = access(&pair);

    // One wrong password on each route: four failures lock the account.
    for route in ROUTES {
        recheck(&h, &token, route, "not the password")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    h.post("/token", json!({"email": email, "password": PASSWORD}))
        .await
        .assert_problem(403, "account_locked");

    // Locked: the right password is refused on every route, and nothing
    // happens; a wrong one answers as before (no lock disclosed).
    for route in ROUTES {
        recheck(&h, &token, route, PASSWORD)
            .await
            .assert_problem(403, "account_locked");
    }
    recheck(&h, &token, "change", "still not it")
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(h.get("/me", &token).await.json()["mfa"]["enabled"], true);
    // One lock, audited once, though the failures went on.
    let events: Vec<String> = h.get("/me/audit", &token).await.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        events.iter().filter(|e| *e == "account_locked").count(),
        1,
        "{events:?}"
    );

    // After the lock (counted from the last failure), they work again;
    // the session survived the failure lock.
    h.clock.advance(chrono::Duration::minutes(16));
    let fresh = h
        .post(
            "/token/refresh",
            json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
    assert_eq!(
        fresh.status,
        200,
        "{}",
        String::from_utf8_lossy(&fresh.body)
    );
    let token = access(&fresh.json());
    let r = recheck(&h, &token, "totp", PASSWORD).await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let r = recheck(&h, &token, "change", PASSWORD).await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert!(h.login(email, NEW_PASSWORD).await["access_token"].is_string());
}

/// Re-checks are throttled per account and per client IP; the throttled
/// answer is 429 with `Retry-After`, even for the right password, and
/// another account (resp. the per-account budget) is unaffected.
pub async fn password_rechecks_are_throttled_per_account_and_ip(factory: &Factory) {
    let start = |action| {
        let mut limits = RateLimits::disabled();
        limits
            .set(action, Quota::new(2, Duration::from_secs(3600)))
            .unwrap();
        Harness::start(
            factory,
            Options {
                limiter: Arc::new(GovernorLimiter::new(limits)),
                ..mfa_options()
            },
        )
    };

    // Per account.
    let h = start(RateAction::ReauthPerUser).await;
    let ann = h.signed_in("ann@example.com").await;
    enable_totp(&h, &ann).await;
    let ann = access(&ann);
    let bob = access(&h.signed_in("bob@example.com").await);
    recheck(&h, &ann, "change", "wrong one")
        .await
        .assert_problem(401, "invalid_credentials");
    recheck(&h, &ann, "deactivate", "wrong two")
        .await
        .assert_problem(401, "invalid_credentials");
    for route in ROUTES {
        let r = recheck(&h, &ann, route, PASSWORD).await;
        r.assert_problem(429, "rate_limited");
        let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=3600).contains(&retry), "{retry}");
    }
    let r = recheck(&h, &bob, "change", PASSWORD).await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));

    // Per IP: every account from this address shares the budget.
    let h = start(RateAction::ReauthPerIp).await;
    let cy = access(&h.signed_in("cy@example.com").await);
    let di = access(&h.signed_in("di@example.com").await);
    recheck(&h, &cy, "change", "wrong")
        .await
        .assert_problem(401, "invalid_credentials");
    recheck(&h, &di, "change", "wrong")
        .await
        .assert_problem(401, "invalid_credentials");
    recheck(&h, &di, "deactivate", PASSWORD)
        .await
        .assert_problem(429, "rate_limited");
    recheck(&h, &cy, "change", PASSWORD)
        .await
        .assert_problem(429, "rate_limited");
}

/// Unlinking an identity from an account with a password needs it:
/// missing is 422 `required`, wrong is 401 (counted), and the check comes
/// before anything about the identity is told.
pub async fn unlinking_an_identity_needs_the_password(factory: &Factory) {
    let h = Harness::default(factory).await;
    let token = access(&h.signed_in("eli@example.com").await);
    let r = h
        .call(
            Method::DELETE,
            "/me/identities",
            &token,
            Some(json!({"provider": "google"})),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        r.json()["errors"][0],
        json!({"field": "password", "code": "required", "message": "Confirm with the account's password."})
    );
    recheck(&h, &token, "unlink", "wrong")
        .await
        .assert_problem(401, "invalid_credentials");
    let r = h
        .call(
            Method::DELETE,
            "/me/identities",
            &token,
            Some(json!({"provider": "google", "password": 7})),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    recheck(&h, &token, "unlink", PASSWORD)
        .await
        .assert_problem(404, "not_found");
}
