//! Checks of [`SessionStore`](crate::store::SessionStore).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::fixtures::{now, race, rotation, secs, session, token_hash};
use crate::secret::TokenHash;
use crate::session::{RotateOutcome, RotateRefresh, Session};
use crate::store::Store;

/// Stores a fresh session of `user_id` opened at `at`; returns it with its
/// first refresh-token hash.
async fn open(store: &Store, user_id: Uuid, at: DateTime<Utc>) -> (Session, TokenHash) {
    let session = session(user_id, at);
    let refresh = token_hash();
    store
        .sessions
        .create_session(&session, &refresh)
        .await
        .unwrap();
    (session, refresh)
}

/// Rotates `presented` at `at` without grace; returns the outcome and the
/// replacement hash.
async fn rotate(
    store: &Store,
    presented: TokenHash,
    at: DateTime<Utc>,
) -> (RotateOutcome, TokenHash) {
    let req = rotation(presented, at);
    (
        store.sessions.rotate_refresh(&req).await.unwrap(),
        req.replacement,
    )
}

/// A session is found by id and by its first refresh token, exactly as
/// stored.
pub async fn sessions_are_stored_and_found(store: Store) {
    let (session, refresh) = open(&store, Uuid::now_v7(), now()).await;
    assert_eq!(
        store.sessions.session(session.id).await.unwrap().as_ref(),
        Some(&session),
        "session() returns the stored session"
    );
    assert_eq!(
        store.sessions.session_by_refresh(&refresh).await.unwrap(),
        Some(session),
        "session_by_refresh finds the session of its first token"
    );
    assert_eq!(
        store.sessions.session(Uuid::now_v7()).await.unwrap(),
        None,
        "unknown id"
    );
}

/// Listing returns the user's sessions that are neither revoked nor
/// expired, newest first, and nobody else's.
pub async fn sessions_for_user_lists_live_sessions_newest_first(store: Store) {
    let t = now();
    let user_id = Uuid::now_v7();
    let mut live = Vec::new();
    for age in [30, 10, 50, 20, 40, 60] {
        live.push(open(&store, user_id, t - secs(age)).await.0);
    }
    let (revoked, _) = open(&store, user_id, t - secs(5)).await;
    store
        .sessions
        .revoke_session(user_id, revoked.id, t - secs(1), "logout")
        .await
        .unwrap();
    let expired = Session {
        expires_at: t,
        ..session(user_id, t - secs(40))
    };
    store
        .sessions
        .create_session(&expired, &token_hash())
        .await
        .unwrap();
    open(&store, Uuid::now_v7(), t).await;

    let listed: Vec<Uuid> = store
        .sessions
        .sessions_for_user(user_id, t)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    live.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    assert_eq!(
        listed,
        live.iter().map(|s| s.id).collect::<Vec<_>>(),
        "live sessions only (not revoked, now < expires_at), newest first"
    );
    let before_expiry: Vec<Uuid> = store
        .sessions
        .sessions_for_user(user_id, t - secs(1))
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert!(
        before_expiry.contains(&expired.id),
        "a session is listed until its expiry"
    );
    assert!(
        store
            .sessions
            .sessions_for_user(Uuid::now_v7(), t)
            .await
            .unwrap()
            .is_empty(),
        "a user without sessions lists none"
    );
}

/// Revoking one session works only on the owner's live session, once.
pub async fn revoke_session_only_revokes_the_owners_live_session(store: Store) {
    let t = now();
    let user_id = Uuid::now_v7();
    let (session, _) = open(&store, user_id, t).await;
    let sessions = &store.sessions;

    assert!(
        !sessions
            .revoke_session(Uuid::now_v7(), session.id, t, "logout")
            .await
            .unwrap(),
        "someone else's session is not revoked"
    );
    assert_eq!(
        sessions
            .session(session.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    assert!(
        !sessions
            .revoke_session(user_id, Uuid::now_v7(), t, "logout")
            .await
            .unwrap(),
        "an unknown session is not revoked"
    );

    let at = t + secs(5);
    assert!(
        sessions
            .revoke_session(user_id, session.id, at, "logout")
            .await
            .unwrap()
    );
    let stored = sessions.session(session.id).await.unwrap().unwrap();
    assert_eq!(
        stored.revoked_at,
        Some(at),
        "revoked_at is the revocation time"
    );
    assert_eq!(
        stored.revoke_reason.as_deref(),
        Some("logout"),
        "the reason is stored"
    );
    assert!(
        !sessions
            .revoke_session(user_id, session.id, at + secs(1), "again")
            .await
            .unwrap(),
        "a revoked session is not revoked twice"
    );
    let stored = sessions.session(session.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.revoked_at, stored.revoke_reason.as_deref()),
        (Some(at), Some("logout")),
        "a second revocation changes nothing"
    );

    let (expiring, _) = open(&store, user_id, t).await;
    assert!(
        !sessions
            .revoke_session(user_id, expiring.id, expiring.expires_at, "logout")
            .await
            .unwrap(),
        "an expired session is not revoked"
    );
}

/// Revoking every session of a user spares `keep` and other users.
pub async fn revoke_user_sessions_keeps_the_one_asked_for(store: Store) {
    let t = now();
    let user_id = Uuid::now_v7();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(open(&store, user_id, t).await.0.id);
    }
    let (already, _) = open(&store, user_id, t).await;
    store
        .sessions
        .revoke_session(user_id, already.id, t, "logout")
        .await
        .unwrap();
    let (other, _) = open(&store, Uuid::now_v7(), t).await;

    let at = t + secs(1);
    let count = store
        .sessions
        .revoke_user_sessions(user_id, Some(ids[0]), at, "password_changed")
        .await
        .unwrap();
    assert_eq!(
        count, 2,
        "every live session but `keep` is revoked and counted"
    );
    let kept = store.sessions.session(ids[0]).await.unwrap().unwrap();
    assert_eq!(kept.revoked_at, None, "`keep` stays live");
    for id in &ids[1..] {
        let s = store.sessions.session(*id).await.unwrap().unwrap();
        assert_eq!(
            (s.revoked_at, s.revoke_reason.as_deref()),
            (Some(at), Some("password_changed")),
            "revoked with time and reason"
        );
    }
    let s = store.sessions.session(already.id).await.unwrap().unwrap();
    assert_eq!(
        s.revoke_reason.as_deref(),
        Some("logout"),
        "a revoked session keeps its reason"
    );
    let s = store.sessions.session(other.id).await.unwrap().unwrap();
    assert_eq!(s.revoked_at, None, "other users' sessions are untouched");

    let count = store
        .sessions
        .revoke_user_sessions(user_id, None, at, "logout_all")
        .await
        .unwrap();
    assert_eq!(count, 1, "without `keep` the last live session goes too");
    let count = store
        .sessions
        .revoke_user_sessions(user_id, None, at, "logout_all")
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing left to revoke");
}

/// Rotating the current token returns the session with `last_seen_at`
/// moved, and makes the replacement the current token.
pub async fn rotating_the_current_refresh_token_rotates_it(store: Store) {
    let t = now();
    let (session, r1) = open(&store, Uuid::now_v7(), t).await;

    let at = t + secs(60);
    let (outcome, r2) = rotate(&store, r1, at).await;
    let expected = Session {
        last_seen_at: at,
        ..session.clone()
    };
    assert_eq!(
        outcome,
        RotateOutcome::Rotated(expected.clone()),
        "the current token rotates"
    );
    assert_eq!(
        store.sessions.session(session.id).await.unwrap(),
        Some(expected.clone()),
        "last_seen_at is stored"
    );
    assert_eq!(
        store.sessions.session_by_refresh(&r2).await.unwrap(),
        Some(expected.clone()),
        "the replacement belongs to the session"
    );
    assert_eq!(
        store.sessions.session_by_refresh(&r1).await.unwrap(),
        Some(expected),
        "a rotated token still names its session"
    );

    let (outcome, _) = rotate(&store, r2, at + secs(60)).await;
    assert!(
        matches!(outcome, RotateOutcome::Rotated(_)),
        "the replacement is now current"
    );
}

/// Only the current refresh token is found by
/// `session_by_current_refresh`; the lookup reads and never rotates (the
/// token found still rotates afterwards), also under concurrency.
pub async fn only_the_current_refresh_token_is_found_and_never_consumed(store: Store) {
    let t = now();
    let (session, r1) = open(&store, Uuid::now_v7(), t).await;
    let sessions = &store.sessions;
    assert_eq!(
        sessions.session_by_current_refresh(&r1).await.unwrap(),
        Some(session.clone()),
        "a fresh session's first token is current"
    );
    assert_eq!(
        sessions
            .session_by_current_refresh(&token_hash())
            .await
            .unwrap(),
        None,
        "unknown token"
    );
    let lookups = race(20, |_| {
        let store = store.clone();
        async move { store.sessions.session_by_current_refresh(&r1).await }
    })
    .await;
    assert!(
        lookups.iter().all(|l| l.as_ref().unwrap().is_some()),
        "concurrent lookups all find it: nothing is consumed"
    );

    let at = t + secs(5);
    let (outcome, r2) = rotate(&store, r1, at).await;
    assert!(
        matches!(outcome, RotateOutcome::Rotated(_)),
        "the looked-up token still rotates"
    );
    assert_eq!(
        sessions.session_by_current_refresh(&r1).await.unwrap(),
        None,
        "a rotated token is no longer current"
    );
    assert_eq!(
        sessions
            .session_by_current_refresh(&r2)
            .await
            .unwrap()
            .map(|s| (s.id, s.last_seen_at)),
        Some((session.id, at)),
        "its replacement is"
    );

    // Revoked: still found (the caller checks liveness), still current.
    assert!(
        sessions
            .revoke_session(session.user_id, session.id, at, "logout")
            .await
            .unwrap()
    );
    let revoked = sessions.session_by_current_refresh(&r2).await.unwrap();
    assert!(revoked.is_some_and(|s| s.revoked_at.is_some()));
}

/// Presenting a rotated token revokes the session; its newest token dies
/// with it.
pub async fn reusing_a_rotated_refresh_token_revokes_the_session(store: Store) {
    let t = now();
    let (session, r1) = open(&store, Uuid::now_v7(), t).await;
    let (_, r2) = rotate(&store, r1, t + secs(1)).await;

    let at = t + secs(2);
    let (outcome, _) = rotate(&store, r1, at).await;
    let revoked = Session {
        last_seen_at: t + secs(1),
        revoked_at: Some(at),
        revoke_reason: Some("refresh_token_reused".into()),
        ..session.clone()
    };
    assert_eq!(
        outcome,
        RotateOutcome::Reused(revoked.clone()),
        "reuse revokes the session"
    );
    assert_eq!(
        store.sessions.session(session.id).await.unwrap(),
        Some(revoked),
        "stored"
    );

    let (outcome, _) = rotate(&store, r2, at + secs(1)).await;
    assert_eq!(
        outcome,
        RotateOutcome::Invalid,
        "the newest token dies with the session"
    );
    let (outcome, _) = rotate(&store, r1, at + secs(1)).await;
    assert_eq!(
        outcome,
        RotateOutcome::Invalid,
        "a revoked session stays revoked"
    );
}

/// Of 20 concurrent rotations of one token exactly one succeeds, and the
/// session ends revoked.
pub async fn concurrent_rotations_of_one_token_rotate_once(store: Store) {
    let t = now();
    let (session, r1) = open(&store, Uuid::now_v7(), t).await;
    let at = t + secs(1);
    let outcomes = race(20, |_| {
        let store = store.clone();
        async move { rotate(&store, r1, at).await }
    })
    .await;

    let rotated: Vec<TokenHash> = outcomes
        .iter()
        .filter(|(outcome, _)| matches!(outcome, RotateOutcome::Rotated(_)))
        .map(|(_, replacement)| *replacement)
        .collect();
    assert_eq!(rotated.len(), 1, "exactly one concurrent rotation succeeds");
    let reused = outcomes
        .iter()
        .filter(|(o, _)| matches!(o, RotateOutcome::Reused(_)))
        .count();
    let invalid = outcomes
        .iter()
        .filter(|(o, _)| *o == RotateOutcome::Invalid)
        .count();
    assert!(
        reused >= 1,
        "a losing rotation sees a rotated token and reports reuse"
    );
    assert_eq!(
        1 + reused + invalid,
        20,
        "every other rotation is Reused or Invalid"
    );

    let stored = store.sessions.session(session.id).await.unwrap().unwrap();
    assert_eq!(
        stored.revoke_reason.as_deref(),
        Some("refresh_token_reused"),
        "session revoked"
    );
    let (outcome, _) = rotate(&store, rotated[0], at + secs(1)).await;
    assert_eq!(
        outcome,
        RotateOutcome::Invalid,
        "the winner's token died with the session"
    );
}

/// Within the grace period the immediately previous token rotates again;
/// older tokens, or the previous one after the grace, are reuse.
pub async fn refresh_reuse_grace_tolerates_only_the_previous_token(store: Store) {
    let t = now();
    let grace = secs(10);
    let graced = |presented, at| {
        let mut req = rotation(presented, at);
        req.reuse_grace = grace;
        req
    };

    let (session, r1) = open(&store, Uuid::now_v7(), t).await;
    let first = graced(r1, t);
    assert!(matches!(
        store.sessions.rotate_refresh(&first).await.unwrap(),
        RotateOutcome::Rotated(_)
    ));
    let r2 = first.replacement;
    let again = graced(r1, t + secs(1));
    assert_eq!(
        store.sessions.rotate_refresh(&again).await.unwrap(),
        RotateOutcome::Rotated(Session {
            last_seen_at: t + secs(1),
            ..session.clone()
        }),
        "the previous token within the grace rotates the current one"
    );
    let r3 = again.replacement;
    assert!(
        matches!(
            store
                .sessions
                .rotate_refresh(&graced(r2, t + secs(2)))
                .await
                .unwrap(),
            RotateOutcome::Rotated(_)
        ),
        "the token just replaced in the grace rotation is now the previous one"
    );
    assert!(
        matches!(
            store
                .sessions
                .rotate_refresh(&graced(r1, t + secs(3)))
                .await
                .unwrap(),
            RotateOutcome::Reused(_)
        ),
        "a token older than the previous one is reuse, even within the grace"
    );
    let (outcome, _) = rotate(&store, r3, t + secs(4)).await;
    assert_eq!(outcome, RotateOutcome::Invalid, "reuse revoked the session");

    let (_, r1) = open(&store, Uuid::now_v7(), t).await;
    store.sessions.rotate_refresh(&graced(r1, t)).await.unwrap();
    assert!(
        matches!(
            store
                .sessions
                .rotate_refresh(&graced(r1, t + grace))
                .await
                .unwrap(),
            RotateOutcome::Reused(_)
        ),
        "the previous token after the grace is reuse"
    );

    let (_, r1) = open(&store, Uuid::now_v7(), t).await;
    rotate(&store, r1, t).await;
    let (outcome, _) = rotate(&store, r1, t - secs(1)).await;
    assert!(
        matches!(outcome, RotateOutcome::Reused(_)),
        "a zero grace tolerates nothing, even when the clock steps back"
    );
}

/// Rotation fails once the session is idle too long or past its absolute
/// expiry.
pub async fn refresh_fails_after_idle_timeout_and_absolute_expiry(store: Store) {
    let t = now();
    let idle = |presented, at| {
        let mut req = rotation(presented, at);
        req.idle_timeout = Duration::minutes(30);
        req
    };

    let (_, r1) = open(&store, Uuid::now_v7(), t).await;
    assert_eq!(
        store
            .sessions
            .rotate_refresh(&idle(r1, t + Duration::minutes(30)))
            .await
            .unwrap(),
        RotateOutcome::Invalid,
        "a session idle for the whole timeout is dead"
    );
    let live = idle(r1, t + Duration::minutes(29));
    assert!(
        matches!(
            store.sessions.rotate_refresh(&live).await.unwrap(),
            RotateOutcome::Rotated(_)
        ),
        "a session idle for less than the timeout refreshes"
    );
    let later = idle(live.replacement, t + Duration::minutes(58));
    assert!(
        matches!(
            store.sessions.rotate_refresh(&later).await.unwrap(),
            RotateOutcome::Rotated(_)
        ),
        "the idle timeout counts from the last refresh"
    );

    let session = Session {
        expires_at: t + Duration::hours(1),
        ..session(Uuid::now_v7(), t)
    };
    let r1 = token_hash();
    store.sessions.create_session(&session, &r1).await.unwrap();
    let (outcome, _) = rotate(&store, r1, session.expires_at).await;
    assert_eq!(
        outcome,
        RotateOutcome::Invalid,
        "a session at its absolute expiry is dead"
    );
    let (outcome, _) = rotate(&store, r1, session.expires_at - secs(1)).await;
    assert!(
        matches!(outcome, RotateOutcome::Rotated(_)),
        "refused rotations change nothing"
    );
}

/// An unknown refresh token is `Invalid` and finds no session.
pub async fn unknown_refresh_tokens_are_invalid(store: Store) {
    open(&store, Uuid::now_v7(), now()).await;
    let unknown = token_hash();
    let (outcome, _) = rotate(&store, unknown, now()).await;
    assert_eq!(
        outcome,
        RotateOutcome::Invalid,
        "an unknown token is Invalid"
    );
    assert_eq!(
        store.sessions.session_by_refresh(&unknown).await.unwrap(),
        None
    );
}

/// `revoked_sessions_since(since)` lists exactly the sessions revoked
/// after `since` (by any path: one session, all of a user's, refresh
/// reuse) whose expiry is after `since` too: those whose access tokens may
/// still verify.
pub async fn revoked_sessions_since_lists_recent_revocations(store: Store) {
    let t = now();
    let since = t - Duration::minutes(15);
    let user_id = Uuid::now_v7();
    let sessions = &store.sessions;

    let (logged_out, _) = open(&store, user_id, t - Duration::hours(1)).await;
    sessions
        .revoke_session(user_id, logged_out.id, t - secs(60), "logout")
        .await
        .unwrap();
    let (at_since, _) = open(&store, user_id, t - Duration::hours(1)).await;
    sessions
        .revoke_session(user_id, at_since.id, since, "logout")
        .await
        .unwrap();
    let (long_ago, _) = open(&store, user_id, t - Duration::hours(2)).await;
    sessions
        .revoke_session(user_id, long_ago.id, t - Duration::hours(1), "logout")
        .await
        .unwrap();
    let (reused, first) = open(&store, user_id, t - Duration::hours(1)).await;
    rotate(&store, first, t - secs(120)).await;
    let (outcome, _) = rotate(&store, first, t - secs(30)).await;
    assert!(matches!(outcome, RotateOutcome::Reused(_)), "{outcome:?}");
    let (live, _) = open(&store, user_id, t - Duration::hours(1)).await;
    let other_user = Uuid::now_v7();
    let (all_of_user, _) = open(&store, other_user, t - Duration::hours(1)).await;
    let (kept, _) = open(&store, other_user, t - Duration::hours(1)).await;
    sessions
        .revoke_user_sessions(other_user, Some(kept.id), t - secs(10), "logout_all")
        .await
        .unwrap();
    let ended_before = Session {
        expires_at: since,
        revoked_at: Some(t - secs(60)),
        revoke_reason: Some("logout".into()),
        ..session(user_id, t - Duration::days(30))
    };
    sessions
        .create_session(&ended_before, &token_hash())
        .await
        .unwrap();
    let ends_after = Session {
        expires_at: since + secs(1),
        revoked_at: Some(t - secs(60)),
        revoke_reason: Some("logout".into()),
        ..session(user_id, t - Duration::days(30))
    };
    sessions
        .create_session(&ends_after, &token_hash())
        .await
        .unwrap();

    let listed = sessions.revoked_sessions_since(since).await.unwrap();
    for id in [logged_out.id, reused.id, all_of_user.id, ends_after.id] {
        assert!(
            listed.contains(&id),
            "a session revoked after `since` is listed"
        );
    }
    for (id, why) in [
        (at_since.id, "revoked exactly at `since`"),
        (long_ago.id, "revoked before `since`"),
        (live.id, "not revoked"),
        (kept.id, "kept by revoke_user_sessions"),
        (ended_before.id, "expired by `since`"),
    ] {
        assert!(!listed.contains(&id), "a session {why} is not listed");
    }
    assert_eq!(
        listed.iter().filter(|id| **id == logged_out.id).count(),
        1,
        "each session is listed once"
    );
}

/// Purging drops sessions that expired or were revoked before the cutoff,
/// with their refresh tokens, and nothing else.
pub async fn purge_sessions_removes_only_old_sessions(store: Store) {
    let t = now();
    let user_id = Uuid::now_v7();
    let old = t - Duration::days(40);

    let expired = Session {
        expires_at: t - secs(1),
        ..session(user_id, old)
    };
    let expired_refresh = token_hash();
    store
        .sessions
        .create_session(&expired, &expired_refresh)
        .await
        .unwrap();
    let (revoked, revoked_refresh) = open(&store, user_id, t - Duration::hours(2)).await;
    store
        .sessions
        .revoke_session(user_id, revoked.id, t - secs(1), "logout")
        .await
        .unwrap();
    let (live, live_refresh) = open(&store, user_id, t).await;
    let (revoked_now, _) = open(&store, user_id, t - Duration::hours(1)).await;
    store
        .sessions
        .revoke_session(user_id, revoked_now.id, t, "logout")
        .await
        .unwrap();
    let expiring_now = Session {
        expires_at: t,
        ..session(user_id, old)
    };
    store
        .sessions
        .create_session(&expiring_now, &token_hash())
        .await
        .unwrap();

    assert_eq!(
        store.sessions.purge_sessions(t).await.unwrap(),
        2,
        "two sessions are old"
    );
    for gone in [expired.id, revoked.id] {
        assert_eq!(
            store.sessions.session(gone).await.unwrap(),
            None,
            "an old session is purged"
        );
    }
    for kept in [live.id, revoked_now.id, expiring_now.id] {
        assert!(
            store.sessions.session(kept).await.unwrap().is_some(),
            "purge keeps {kept}"
        );
    }
    for refresh in [expired_refresh, revoked_refresh] {
        assert_eq!(
            store.sessions.session_by_refresh(&refresh).await.unwrap(),
            None,
            "a purged session's refresh tokens are gone"
        );
        let (outcome, _) = rotate(&store, refresh, t).await;
        assert_eq!(outcome, RotateOutcome::Invalid);
    }
    assert!(
        store
            .sessions
            .session_by_refresh(&live_refresh)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.sessions.purge_sessions(t).await.unwrap(),
        0,
        "purging again finds nothing"
    );
}

/// Every row of the rotation rule's table
/// ([`ROTATION_CASES`](crate::session::ROTATION_CASES)), the same table
/// [`decide_rotation`](crate::session::decide_rotation) is tested against,
/// set up in the store and rotated.
pub async fn refresh_rotation_answers_every_row_of_the_table(store: Store) {
    use crate::session::{
        CASE_IDLE_TIMEOUT_SECS, CaseAnswer, CasePresents, CaseSession, ROTATION_CASES,
    };

    let idle = secs(CASE_IDLE_TIMEOUT_SECS);
    for case in ROTATION_CASES {
        let t = now();
        let user_id = Uuid::now_v7();
        let session = Session {
            created_at: t - Duration::hours(1),
            last_seen_at: match case.session {
                CaseSession::Idle => t - idle,
                _ => t - secs(60),
            },
            expires_at: match case.session {
                CaseSession::Expired => t,
                _ => t + Duration::hours(1),
            },
            ..super::fixtures::session(user_id, t)
        };
        let first = token_hash();
        store
            .sessions
            .create_session(&session, &first)
            .await
            .unwrap();
        let setup = |presented, at| RotateRefresh {
            idle_timeout: idle,
            ..rotation(presented, at)
        };
        match case.presents {
            CasePresents::Current => {}
            CasePresents::Previous { rotated_secs_ago } => {
                let req = setup(first, t - secs(rotated_secs_ago));
                store.sessions.rotate_refresh(&req).await.unwrap();
            }
            CasePresents::Older => {
                let req = setup(first, t - secs(10));
                store.sessions.rotate_refresh(&req).await.unwrap();
                let req = setup(req.replacement, t - secs(5));
                store.sessions.rotate_refresh(&req).await.unwrap();
            }
        }
        if case.session == CaseSession::Revoked {
            store
                .sessions
                .revoke_session(user_id, session.id, t, "test")
                .await
                .unwrap();
        }
        let req = RotateRefresh {
            reuse_grace: secs(case.grace_secs),
            ..setup(first, t)
        };
        let outcome = store.sessions.rotate_refresh(&req).await.unwrap();
        assert_eq!(CaseAnswer::from(&outcome), case.expected, "{}", case.name);
    }
}
