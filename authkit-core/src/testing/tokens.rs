//! Checks of [`OneTimeTokenStore`](crate::store::OneTimeTokenStore).

use std::collections::BTreeSet;

use chrono::Duration;

use super::fixtures::{code_hash, new_subject, now, one_time, race, secs, token_hash};
use crate::one_time::{CodeCheck, OneTimeToken, Purpose};
use crate::store::Store;

/// `find_token` sees a live token without spending it, and nothing else.
pub async fn find_token_does_not_consume(store: Store) {
    let t = now();
    let hash = token_hash();
    let token = one_time(Purpose::ResetPassword, &new_subject(), hash, t);
    store.tokens.issue_token(&token).await.unwrap();
    for _ in 0..3 {
        assert_eq!(
            store
                .tokens
                .find_token(Purpose::ResetPassword, &hash, t)
                .await
                .unwrap()
                .as_ref(),
            Some(&token),
            "find returns the live token as issued"
        );
    }
    assert_eq!(
        store
            .tokens
            .find_token(Purpose::VerifyEmail, &hash, t)
            .await
            .unwrap(),
        None,
        "find is bound to the purpose"
    );
    assert_eq!(
        store
            .tokens
            .find_token(Purpose::ResetPassword, &hash, token.expires_at)
            .await
            .unwrap(),
        None,
        "find skips an expired token"
    );
    assert!(
        store
            .tokens
            .consume_token(Purpose::ResetPassword, &hash, t)
            .await
            .unwrap()
            .is_some(),
        "find did not consume the token"
    );
    assert_eq!(
        store
            .tokens
            .find_token(Purpose::ResetPassword, &hash, t)
            .await
            .unwrap(),
        None,
        "find skips a consumed token"
    );
}

/// A token is consumed once, returned as issued with `consumed_at` set.
pub async fn one_time_tokens_are_consumed_once(store: Store) {
    let t = now();
    let hash = token_hash();
    let token = one_time(Purpose::ResetPassword, &new_subject(), hash, t);
    store.tokens.issue_token(&token).await.unwrap();

    let at = t + secs(30);
    let consumed = store
        .tokens
        .consume_token(Purpose::ResetPassword, &hash, at)
        .await
        .unwrap();
    let expected = OneTimeToken {
        consumed_at: Some(at),
        ..token
    };
    assert_eq!(
        consumed,
        Some(expected),
        "the first consume returns the token, now consumed"
    );
    assert_eq!(
        store
            .tokens
            .consume_token(Purpose::ResetPassword, &hash, at)
            .await
            .unwrap(),
        None,
        "a consumed token is not consumed again"
    );
    assert_eq!(
        store
            .tokens
            .consume_token(Purpose::ResetPassword, &token_hash(), at)
            .await
            .unwrap(),
        None,
        "an unknown hash consumes nothing"
    );
}

/// A token issued for one purpose is refused for every other.
pub async fn one_time_tokens_are_bound_to_their_purpose(store: Store) {
    let t = now();
    let hash = token_hash();
    store
        .tokens
        .issue_token(&one_time(Purpose::VerifyEmail, &new_subject(), hash, t))
        .await
        .unwrap();

    for other in [Purpose::ResetPassword, Purpose::MagicLink, Purpose::Invite] {
        assert_eq!(
            store.tokens.consume_token(other, &hash, t).await.unwrap(),
            None,
            "a verify-email token is refused as {other:?}"
        );
    }
    assert!(
        store
            .tokens
            .consume_token(Purpose::VerifyEmail, &hash, t)
            .await
            .unwrap()
            .is_some(),
        "refusals for other purposes leave the token usable"
    );
}

/// A token is refused from its `expires_at` on, and usable just before.
pub async fn expired_one_time_tokens_are_refused(store: Store) {
    let t = now();
    let hash = token_hash();
    let token = one_time(Purpose::MagicLink, &new_subject(), hash, t);
    store.tokens.issue_token(&token).await.unwrap();

    assert_eq!(
        store
            .tokens
            .consume_token(Purpose::MagicLink, &hash, token.expires_at)
            .await
            .unwrap(),
        None,
        "a token at its expiry is refused"
    );
    assert_eq!(
        store
            .tokens
            .peek_token(Purpose::MagicLink, &token.subject, token.expires_at)
            .await
            .unwrap(),
        None,
        "peek skips an expired token"
    );
    let before = token.expires_at - secs(1);
    assert!(
        store
            .tokens
            .consume_token(Purpose::MagicLink, &hash, before)
            .await
            .unwrap()
            .is_some(),
        "a token just before its expiry is accepted"
    );
}

/// Issuing a token kills the older unconsumed ones of the same purpose and
/// subject, and no others.
pub async fn issuing_a_token_invalidates_the_previous_one(store: Store) {
    let t = now();
    let subject = new_subject();
    let (h1, h2, h_other_subject, h_other_purpose) =
        (token_hash(), token_hash(), token_hash(), token_hash());
    let tokens = &store.tokens;
    tokens
        .issue_token(&one_time(Purpose::VerifyEmail, &subject, h1, t))
        .await
        .unwrap();
    tokens
        .issue_token(&one_time(
            Purpose::VerifyEmail,
            &new_subject(),
            h_other_subject,
            t,
        ))
        .await
        .unwrap();
    tokens
        .issue_token(&one_time(
            Purpose::ResetPassword,
            &subject,
            h_other_purpose,
            t,
        ))
        .await
        .unwrap();
    let second = one_time(Purpose::VerifyEmail, &subject, h2, t + secs(1));
    tokens.issue_token(&second).await.unwrap();

    let at = t + secs(2);
    assert_eq!(
        tokens
            .consume_token(Purpose::VerifyEmail, &h1, at)
            .await
            .unwrap(),
        None,
        "a newer token of the same purpose and subject kills the older one"
    );
    assert_eq!(
        tokens
            .peek_token(Purpose::VerifyEmail, &subject, at)
            .await
            .unwrap(),
        Some(second),
        "the newest token is the live one"
    );
    assert!(
        tokens
            .consume_token(Purpose::VerifyEmail, &h2, at)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        tokens
            .consume_token(Purpose::VerifyEmail, &h_other_subject, at)
            .await
            .unwrap()
            .is_some(),
        "another subject's token survives"
    );
    assert!(
        tokens
            .consume_token(Purpose::ResetPassword, &h_other_purpose, at)
            .await
            .unwrap()
            .is_some(),
        "another purpose's token survives"
    );
}

/// Of 50 concurrent consumes of one token exactly one gets it.
pub async fn concurrent_consumes_of_one_token_succeed_once(store: Store) {
    let t = now();
    let hash = token_hash();
    store
        .tokens
        .issue_token(&one_time(Purpose::ResetPassword, &new_subject(), hash, t))
        .await
        .unwrap();
    let results = race(50, |_| {
        let store = store.clone();
        async move {
            store
                .tokens
                .consume_token(Purpose::ResetPassword, &hash, t)
                .await
                .unwrap()
        }
    })
    .await;
    let winners = results.iter().filter(|r| r.is_some()).count();
    assert_eq!(winners, 1, "exactly one concurrent consume gets the token");
}

/// The right code is accepted once, consuming the token.
pub async fn check_code_accepts_the_right_code_once(store: Store) {
    let t = now();
    let purpose = Purpose::VerifyEmailCode;
    let subject = new_subject();
    let hash = code_hash(purpose, &subject, "123456");
    let token = one_time(purpose, &subject, hash, t);
    store.tokens.issue_token(&token).await.unwrap();

    let wrong = code_hash(purpose, &subject, "654321");
    assert_eq!(
        store
            .tokens
            .check_code(purpose, &subject, &wrong, t)
            .await
            .unwrap(),
        CodeCheck::Rejected { attempts_left: 4 },
        "a wrong code counts one attempt"
    );
    let at = t + secs(5);
    assert_eq!(
        store
            .tokens
            .check_code(purpose, &subject, &hash, at)
            .await
            .unwrap(),
        CodeCheck::Accepted(OneTimeToken {
            attempts: 1,
            consumed_at: Some(at),
            ..token
        }),
        "the right code is accepted while attempts remain"
    );
    assert_eq!(
        store
            .tokens
            .check_code(purpose, &subject, &hash, at)
            .await
            .unwrap(),
        CodeCheck::Missing,
        "an accepted code is not accepted again"
    );
    assert_eq!(
        store
            .tokens
            .check_code(purpose, &new_subject(), &hash, at)
            .await
            .unwrap(),
        CodeCheck::Missing,
        "a subject without a token is Missing"
    );
}

/// Wrong codes count the attempts down to zero, after which even the right
/// code finds nothing.
pub async fn check_code_counts_wrong_codes_down_to_zero(store: Store) {
    let t = now();
    let purpose = Purpose::RegisterOtp;
    let subject = new_subject();
    let hash = code_hash(purpose, &subject, "000000");
    let token = OneTimeToken {
        max_attempts: 3,
        ..one_time(purpose, &subject, hash, t)
    };
    store.tokens.issue_token(&token).await.unwrap();

    let wrong = code_hash(purpose, &subject, "999999");
    for left in [2, 1, 0] {
        assert_eq!(
            store
                .tokens
                .check_code(purpose, &subject, &wrong, t)
                .await
                .unwrap(),
            CodeCheck::Rejected {
                attempts_left: left
            },
            "each wrong code counts one attempt"
        );
    }
    assert_eq!(
        store
            .tokens
            .check_code(purpose, &subject, &hash, t)
            .await
            .unwrap(),
        CodeCheck::Missing,
        "a token out of attempts is dead, even for the right code"
    );
    assert_eq!(
        store.tokens.peek_token(purpose, &subject, t).await.unwrap(),
        None
    );
    assert_eq!(
        store.tokens.consume_token(purpose, &hash, t).await.unwrap(),
        None,
        "a token out of attempts cannot be consumed by hash either"
    );
}

/// Of 50 concurrent correct submissions exactly one is accepted.
pub async fn concurrent_correct_codes_are_accepted_once(store: Store) {
    let t = now();
    let purpose = Purpose::VerifyEmailCode;
    let subject = new_subject();
    let hash = code_hash(purpose, &subject, "424242");
    store
        .tokens
        .issue_token(&one_time(purpose, &subject, hash, t))
        .await
        .unwrap();
    let results = race(50, |_| {
        let store = store.clone();
        let subject = subject.clone();
        async move {
            store
                .tokens
                .check_code(purpose, &subject, &hash, t)
                .await
                .unwrap()
        }
    })
    .await;
    let accepted = results
        .iter()
        .filter(|r| matches!(r, CodeCheck::Accepted(_)))
        .count();
    assert_eq!(
        accepted, 1,
        "exactly one concurrent correct code is accepted"
    );
    assert!(
        results
            .iter()
            .all(|r| matches!(r, CodeCheck::Accepted(_) | CodeCheck::Missing)),
        "the others find the token consumed"
    );
}

/// Concurrent wrong codes all count: each sees its own attempts left, and
/// the ones past the limit find the token dead.
pub async fn concurrent_wrong_codes_all_count(store: Store) {
    let t = now();
    let purpose = Purpose::VerifyEmailCode;
    let subject = new_subject();
    let hash = code_hash(purpose, &subject, "111111");
    store
        .tokens
        .issue_token(&one_time(purpose, &subject, hash, t))
        .await
        .unwrap();
    let wrong = code_hash(purpose, &subject, "222222");
    let results = race(20, |_| {
        let store = store.clone();
        let subject = subject.clone();
        async move {
            store
                .tokens
                .check_code(purpose, &subject, &wrong, t)
                .await
                .unwrap()
        }
    })
    .await;

    let left: BTreeSet<u32> = results
        .iter()
        .filter_map(|r| match r {
            CodeCheck::Rejected { attempts_left } => Some(*attempts_left),
            _ => None,
        })
        .collect();
    assert_eq!(left, (0..5).collect(), "five attempts, each counted once");
    let missing = results.iter().filter(|r| **r == CodeCheck::Missing).count();
    assert_eq!(missing, 15, "attempts past the limit find no live token");
}

/// Codes are checked against their own (purpose, subject) only.
pub async fn check_code_is_isolated_per_subject_and_purpose(store: Store) {
    let t = now();
    let purpose = Purpose::VerifyEmailCode;
    let (ann, bob) = (new_subject(), new_subject());
    let ann_hash = code_hash(purpose, &ann, "123456");
    let bob_hash = code_hash(purpose, &bob, "123456");
    let ann_token = one_time(purpose, &ann, ann_hash, t);
    store.tokens.issue_token(&ann_token).await.unwrap();
    store
        .tokens
        .issue_token(&one_time(purpose, &bob, bob_hash, t))
        .await
        .unwrap();

    assert_eq!(
        store
            .tokens
            .check_code(purpose, &bob, &ann_hash, t)
            .await
            .unwrap(),
        CodeCheck::Rejected { attempts_left: 4 },
        "one subject's code does not open another's"
    );
    assert_eq!(
        store.tokens.peek_token(purpose, &ann, t).await.unwrap(),
        Some(ann_token),
        "an attempt on one subject does not count on another"
    );
    assert_eq!(
        store
            .tokens
            .check_code(Purpose::RegisterOtp, &ann, &ann_hash, t)
            .await
            .unwrap(),
        CodeCheck::Missing,
        "a code is not checked against another purpose's token"
    );
    assert!(matches!(
        store
            .tokens
            .check_code(purpose, &ann, &ann_hash, t)
            .await
            .unwrap(),
        CodeCheck::Accepted(_)
    ));
    assert!(matches!(
        store
            .tokens
            .check_code(purpose, &bob, &bob_hash, t)
            .await
            .unwrap(),
        CodeCheck::Accepted(_)
    ));
}

/// Peeking returns the newest live token without consuming it or counting
/// an attempt.
pub async fn peek_does_not_consume(store: Store) {
    let t = now();
    let purpose = Purpose::RegisterOtp;
    let subject = new_subject();
    let hash = code_hash(purpose, &subject, "314159");
    let token = one_time(purpose, &subject, hash, t);
    store.tokens.issue_token(&token).await.unwrap();

    for _ in 0..3 {
        assert_eq!(
            store
                .tokens
                .peek_token(purpose, &subject, t)
                .await
                .unwrap()
                .as_ref(),
            Some(&token),
            "peek returns the token as issued"
        );
    }
    assert!(matches!(
        store
            .tokens
            .check_code(purpose, &subject, &hash, t)
            .await
            .unwrap(),
        CodeCheck::Accepted(_)
    ));
    assert_eq!(
        store.tokens.peek_token(purpose, &subject, t).await.unwrap(),
        None,
        "peek skips a consumed token"
    );
    assert_eq!(
        store
            .tokens
            .peek_token(purpose, &new_subject(), t)
            .await
            .unwrap(),
        None
    );
}

/// Purging drops tokens that expired or were used before the cutoff, and
/// nothing else.
pub async fn purge_tokens_removes_only_old_tokens(store: Store) {
    let t = now();
    let issued = t - Duration::minutes(30);
    let purpose = Purpose::MagicLink;
    let tokens = &store.tokens;

    let expired = token_hash();
    let token = OneTimeToken {
        expires_at: t - secs(1),
        ..one_time(purpose, &new_subject(), expired, issued)
    };
    tokens.issue_token(&token).await.unwrap();
    let used = token_hash();
    tokens
        .issue_token(&one_time(purpose, &new_subject(), used, issued))
        .await
        .unwrap();
    tokens
        .consume_token(purpose, &used, t - secs(1))
        .await
        .unwrap()
        .unwrap();

    let live = token_hash();
    let live_subject = new_subject();
    tokens
        .issue_token(&one_time(purpose, &live_subject, live, issued))
        .await
        .unwrap();
    let used_now = token_hash();
    tokens
        .issue_token(&one_time(purpose, &new_subject(), used_now, issued))
        .await
        .unwrap();
    tokens
        .consume_token(purpose, &used_now, t)
        .await
        .unwrap()
        .unwrap();
    let expiring_now = token_hash();
    let token = OneTimeToken {
        expires_at: t,
        ..one_time(purpose, &new_subject(), expiring_now, issued)
    };
    tokens.issue_token(&token).await.unwrap();

    assert_eq!(
        tokens.purge_tokens(t).await.unwrap(),
        2,
        "two tokens are old"
    );
    assert!(
        tokens
            .peek_token(purpose, &live_subject, t)
            .await
            .unwrap()
            .is_some(),
        "purge keeps live tokens"
    );
    assert!(
        tokens
            .consume_token(purpose, &live, t)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        tokens.purge_tokens(t).await.unwrap(),
        0,
        "tokens used or expired at the cutoff itself are kept"
    );
    assert_eq!(
        tokens.purge_tokens(t + secs(1)).await.unwrap(),
        3,
        "then they go"
    );
}
