//! SMS pumping defences over HTTP: every text spends from budgets per
//! account, client IP, destination number and in all, and goes only to
//! allowed countries; a refused send texts nothing and changes nothing.

use std::sync::Arc;
use std::time::Duration;

use authkit_core::AuthConfig;
use authkit_core::rate_limit::{GovernorLimiter, Quota, RateAction, RateLimits};
use authkit_core::store::UserUpdate;
use http::Method;
use serde_json::{Value, json};

use super::mfa::{access, challenged, enable_totp, field_error, mfa_options};
use crate::{Factory, Harness, Options, Reply};

const UK: &str = "+447700900123";
const US: &str = "+14155550123";
const US_OTHER: &str = "+14155550124";
const GERMANY: &str = "+4915123456789";

/// Options with only `action` limited, to `burst` an hour, MFA on.
fn one_budget(action: RateAction, burst: u32) -> Options {
    let mut limits = RateLimits::disabled();
    limits
        .set(action, Quota::new(burst, Duration::from_secs(3600)))
        .unwrap();
    Options {
        limiter: Arc::new(GovernorLimiter::new(limits)),
        ..mfa_options()
    }
}

async fn start(h: &Harness, pair: &Value, phone: &str) -> Reply {
    h.call(
        Method::POST,
        "/phone/verify/start",
        access(pair),
        Some(json!({"phone": phone})),
    )
    .await
}

/// A 429 with a `Retry-After` within the hour, and nothing texted.
fn assert_throttled(h: &Harness, r: &Reply, texts_before: usize) {
    r.assert_problem(429, "rate_limited");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    assert_eq!(h.sms.count(), texts_before, "a refused send texts nothing");
}

/// Per account: a second number does not buy a second text; another
/// account still can. The refused start leaves the stored number alone.
pub async fn sms_budget_per_account(factory: &Factory) {
    let h = Harness::start(factory, one_budget(RateAction::SmsPerAccount, 1)).await;
    let ann = h.signed_in("ann@example.com").await;
    let bob = h.signed_in("bob@example.com").await;
    assert_eq!(start(&h, &ann, US).await.status, 202);
    let r = start(&h, &ann, UK).await;
    assert_throttled(&h, &r, 1);
    let me = h.get("/me", access(&ann)).await.json();
    assert_eq!(me["phone"], US, "a refused start changes nothing");
    assert_eq!(start(&h, &bob, UK).await.status, 202);
}

/// Per destination number: other accounts cannot text the same number
/// again (no SMS bombing of a victim), other numbers still work.
pub async fn sms_budget_per_number(factory: &Factory) {
    let h = Harness::start(factory, one_budget(RateAction::SmsPerNumber, 1)).await;
    let ann = h.signed_in("ann@example.com").await;
    let bob = h.signed_in("bob@example.com").await;
    assert_eq!(start(&h, &ann, US).await.status, 202);
    let r = start(&h, &bob, US).await;
    assert_throttled(&h, &r, 1);
    assert_eq!(
        h.get("/me", access(&bob)).await.json()["phone"],
        Value::Null
    );
    assert_eq!(start(&h, &bob, US_OTHER).await.status, 202);
}

/// Per client IP: accounts made by one client share its budget.
pub async fn sms_budget_per_ip(factory: &Factory) {
    let h = Harness::start(factory, one_budget(RateAction::SmsPerIp, 2)).await;
    let ann = h.signed_in("ann@example.com").await;
    let bob = h.signed_in("bob@example.com").await;
    let cy = h.signed_in("cy@example.com").await;
    assert_eq!(start(&h, &ann, US).await.status, 202);
    assert_eq!(start(&h, &bob, US_OTHER).await.status, 202);
    let r = start(&h, &cy, UK).await;
    assert_throttled(&h, &r, 2);
}

/// The global budget caps the deployment's texts, also under concurrency:
/// of ten parallel starts with room for three, exactly three are sent.
pub async fn sms_global_budget_holds_under_concurrency(factory: &Factory) {
    let h = Harness::start(factory, one_budget(RateAction::SmsGlobal, 3)).await;
    let ann = h.signed_in("ann@example.com").await;
    let url = format!("{}/phone/verify/start", h.base);
    let bearer = format!("Bearer {}", access(&ann));
    let client = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let (client, url, bearer) = (client.clone(), url.clone(), bearer.clone());
        tasks.spawn(async move {
            let r = client
                .post(url)
                .header("authorization", bearer)
                .header("content-type", "application/json")
                .body(json!({"phone": format!("+1415555{i:04}")}).to_string())
                .send()
                .await
                .unwrap();
            let retry_after = r.headers().contains_key("retry-after");
            (r.status().as_u16(), retry_after)
        });
    }
    let replies = tasks.join_all().await;
    let accepted = replies.iter().filter(|(status, _)| *status == 202).count();
    assert_eq!(accepted, 3, "{replies:?}");
    assert!(
        replies
            .iter()
            .all(|&(status, retry)| status == 202 || (status == 429 && retry)),
        "{replies:?}"
    );
    assert_eq!(h.sms.count(), 3);
    let bob = h.signed_in("bob@example.com").await;
    assert_throttled(&h, &start(&h, &bob, UK).await, 3);
}

/// SMS login codes spend from the same budgets as phone verification.
pub async fn sms_login_codes_spend_the_budgets(factory: &Factory) {
    let h = Harness::start(factory, one_budget(RateAction::SmsPerNumber, 2)).await;
    let email = "max@example.com";
    let pair = h.signed_in(email).await;
    enable_totp(&h, &pair).await;
    assert_eq!(start(&h, &pair, US).await.status, 202);
    let r = h
        .call(
            Method::POST,
            "/phone/verify/confirm",
            access(&pair),
            Some(json!({"code": h.sms_code(US)})),
        )
        .await;
    assert_eq!(r.status, 200);
    let (mfa_token, _) = challenged(&h, email).await;
    let challenge = || {
        h.post(
            "/mfa/challenge",
            json!({"mfa_token": mfa_token, "method": "sms"}),
        )
    };
    assert_eq!(challenge().await.status, 202);
    let r = challenge().await;
    assert_throttled(&h, &r, 2);
    // Email codes are not texts.
    let r = h
        .post(
            "/mfa/challenge",
            json!({"mfa_token": mfa_token, "method": "email"}),
        )
        .await;
    assert_eq!(r.status, 202);
}

/// Only allowed countries are texted: others are a 422 on `phone`
/// (`phone_country_not_allowed`), spare ranges too, and SMS is no second
/// factor for a number of a country not allowed.
pub async fn sms_countries_are_allow_listed(factory: &Factory) {
    let options = Options {
        auth: AuthConfig {
            phone: authkit_core::PhoneConfig::default()
                .allowed_countries(Some(vec!["1".parse().unwrap(), "+44".parse().unwrap()])),
            ..mfa_options().auth
        },
        ..Options::default()
    };
    let h = Harness::start(factory, options).await;
    let email = "ida@example.com";
    let pair = h.signed_in(email).await;
    for refused in [GERMANY, "+88216123456", "+2801234567"] {
        let r = start(&h, &pair, refused).await;
        assert_eq!(
            field_error(&r, "phone"),
            "phone_country_not_allowed",
            "{refused}"
        );
    }
    assert_eq!(h.sms.count(), 0);
    assert_eq!(
        h.get("/me", access(&pair)).await.json()["phone"],
        Value::Null
    );
    // A malformed number is still `phone_invalid`, checked first.
    let r = start(&h, &pair, "+0 12").await;
    assert_eq!(field_error(&r, "phone"), "phone_invalid");
    assert_eq!(start(&h, &pair, UK).await.status, 202);
    assert_eq!(start(&h, &pair, US).await.status, 202);
    let r = h
        .call(
            Method::POST,
            "/phone/verify/confirm",
            access(&pair),
            Some(json!({"code": h.sms_code(US)})),
        )
        .await;
    assert_eq!(r.status, 200);
    enable_totp(&h, &pair).await;
    let (_, methods) = challenged(&h, email).await;
    assert!(methods.contains(&json!("sms")), "{methods:?}");

    // A verified number from before the allow-list (written behind
    // authkit's back here) is not offered and not texted.
    let stored = authkit_core::email::Email::parse(email).unwrap();
    let users = &h.auth.store().users;
    let user = users.user_by_email(&stored).await.unwrap().unwrap();
    let german = authkit_core::email::Phone::parse(GERMANY).unwrap();
    let now = chrono::Utc::now();
    let moved = UserUpdate::Profile {
        display_name: None,
        avatar_url: None,
        phone: Some(Some(german.clone())),
    };
    users.update_user(user.id, &moved, now).await.unwrap();
    users
        .update_user(user.id, &UserUpdate::PhoneVerified(german), now)
        .await
        .unwrap();
    let (mfa_token, methods) = challenged(&h, email).await;
    assert!(!methods.contains(&json!("sms")), "{methods:?}");
    let before = h.sms.count();
    let r = h
        .post(
            "/mfa/challenge",
            json!({"mfa_token": mfa_token, "method": "sms"}),
        )
        .await;
    assert_eq!(field_error(&r, "method"), "mfa_method_unavailable");
    assert_eq!(h.sms.count(), before);
}
