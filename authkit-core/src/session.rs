//! Login sessions (one per device) and their refresh-token family.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::secret::TokenHash;
use utoipa::ToSchema;

/// One login on one device. Its refresh tokens form a family: each refresh
/// rotates the current token, and presenting an already-rotated one revokes
/// the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Session id (UUID v7), carried in access tokens as `sid`.
    pub id: Uuid,
    /// The account.
    pub user_id: Uuid,
    /// Client IP at login.
    pub ip: Option<String>,
    /// Client user agent at login.
    pub user_agent: Option<String>,
    /// Login time.
    pub created_at: DateTime<Utc>,
    /// Last refresh time.
    pub last_seen_at: DateTime<Utc>,
    /// Absolute end of the session, whatever the activity.
    pub expires_at: DateTime<Utc>,
    /// When the session was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why it was revoked (`logout`, `refresh_token_reused`, ...).
    pub revoke_reason: Option<String>,
}

impl Session {
    /// Whether the session can still be used at `now` with the given idle
    /// timeout (time since the last refresh).
    pub fn is_live(&self, now: DateTime<Utc>, idle_timeout: chrono::Duration) -> bool {
        self.revoked_at.is_none() && now < self.expires_at && now < self.last_seen_at + idle_timeout
    }

    /// The public view of this session for the account owner.
    pub fn view(&self, current: Option<Uuid>) -> SessionView {
        SessionView {
            id: self.id,
            created_at: self.created_at,
            last_seen_at: self.last_seen_at,
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            current: current == Some(self.id),
        }
    }
}

/// A session as listed to its owner (`GET /sessions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SessionView {
    /// Session id.
    pub id: Uuid,
    /// Login time.
    pub created_at: DateTime<Utc>,
    /// Last refresh time.
    pub last_seen_at: DateTime<Utc>,
    /// Client IP at login.
    pub ip: Option<String>,
    /// Client user agent at login.
    pub user_agent: Option<String>,
    /// Whether this is the session the request came from.
    pub current: bool,
}

/// Everything a store needs to rotate a refresh token in one atomic step.
#[derive(Debug, Clone)]
pub struct RotateRefresh {
    /// Hash of the token the client presented.
    pub presented: TokenHash,
    /// Hash of the replacement token.
    pub replacement: TokenHash,
    /// The current time.
    pub now: DateTime<Utc>,
    /// Sessions idle longer than this are dead.
    pub idle_timeout: chrono::Duration,
    /// How long the immediately previous token is still tolerated after a
    /// rotation (zero = never).
    pub reuse_grace: chrono::Duration,
}

/// What happened to a presented refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was current: it is now rotated and the replacement is
    /// current. Carries the session after its `last_seen_at` update.
    Rotated(Session),
    /// The token had already been rotated: the store has revoked the session
    /// (reason `refresh_token_reused`).
    Reused(Session),
    /// Unknown token, or a revoked or expired session.
    Invalid,
}

/// A stored refresh token's rotation state, as a store reads it before
/// deciding a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshState {
    /// When it was rotated, if it was.
    pub rotated_at: Option<DateTime<Utc>>,
    /// What it was rotated into.
    pub replaced_by: Option<TokenHash>,
}

/// What a rotation request does to a session: the answer of
/// [`decide_rotation`], which a store then writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// Unknown token, or a revoked, expired or idle session.
    Invalid,
    /// A rotated token came back outside the grace: revoke the session
    /// (reason [`REFRESH_REUSED`]).
    Reuse,
    /// Retire this token (the presented one when it is current, or the
    /// current one when the presented token is its immediate predecessor
    /// within the grace) in favour of the replacement.
    Retire(TokenHash),
}

/// Revocation reason a store records when a rotated refresh token comes
/// back.
pub const REFRESH_REUSED: &str = "refresh_token_reused";

/// The refresh-rotation rule, in one place: every store (in memory, SQL,
/// a host's own) reads the session, the presented token's state and the
/// session's current token atomically, asks this, and writes the answer.
/// PostgreSQL's `authkit_rotate_refresh` function is its translation to
/// SQL; the conformance suite runs [`ROTATION_CASES`] against every store.
///
/// - a revoked session, one at or past `expires_at`, or one idle for
///   `idle_timeout` or longer: [`Rotation::Invalid`];
/// - the current token: [`Rotation::Retire`] it;
/// - the token the current one replaced, rotated less than `reuse_grace`
///   ago (a positive grace): [`Rotation::Retire`] the current one;
/// - any other rotated token: [`Rotation::Reuse`].
#[must_use]
pub fn decide_rotation(
    req: &RotateRefresh,
    session: &Session,
    presented: RefreshState,
    current: Option<TokenHash>,
) -> Rotation {
    let open = session.revoked_at.is_none() && req.now < session.expires_at;
    if !open || req.now - session.last_seen_at >= req.idle_timeout {
        return Rotation::Invalid;
    }
    let Some(rotated_at) = presented.rotated_at else {
        return Rotation::Retire(req.presented);
    };
    let within_grace =
        req.reuse_grace > chrono::Duration::zero() && req.now - rotated_at < req.reuse_grace;
    match (current, presented.replaced_by) {
        (Some(current), Some(next)) if within_grace && next.ct_eq(&current) => {
            Rotation::Retire(current)
        }
        _ => Rotation::Reuse,
    }
}

/// Which token a [`RotationCase`] presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasePresents {
    /// The session's current token.
    Current,
    /// The token the current one replaced, rotated this many seconds
    /// before the request (negative: after it, a clock stepping back).
    Previous {
        /// Seconds between its rotation and the request.
        rotated_secs_ago: i64,
    },
    /// A token two rotations old.
    Older,
}

/// The session's state in a [`RotationCase`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseSession {
    /// Live, seen a minute (or the previous rotation) ago.
    Open,
    /// Revoked.
    Revoked,
    /// Its `expires_at` is the request's instant.
    Expired,
    /// Last seen exactly the idle timeout (30 minutes) before the request.
    Idle,
}

/// One row of the rotation rule's table: the situation and the answer
/// ([`Rotation`] without its token) every store must give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationCase {
    /// What the row shows.
    pub name: &'static str,
    /// The token presented.
    pub presents: CasePresents,
    /// The session's state.
    pub session: CaseSession,
    /// The reuse grace, in seconds.
    pub grace_secs: i64,
    /// The expected answer.
    pub expected: CaseAnswer,
}

/// The answer a [`RotationCase`] expects: a store's [`RotateOutcome`] or
/// [`decide_rotation`]'s [`Rotation`], without their payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseAnswer {
    /// `Retire` / `Rotated`.
    Rotated,
    /// `Reuse` / `Reused`.
    Reused,
    /// `Invalid`.
    Invalid,
}

impl From<Rotation> for CaseAnswer {
    fn from(rotation: Rotation) -> Self {
        match rotation {
            Rotation::Retire(_) => Self::Rotated,
            Rotation::Reuse => Self::Reused,
            Rotation::Invalid => Self::Invalid,
        }
    }
}

impl From<&RotateOutcome> for CaseAnswer {
    fn from(outcome: &RotateOutcome) -> Self {
        match outcome {
            RotateOutcome::Rotated(_) => Self::Rotated,
            RotateOutcome::Reused(_) => Self::Reused,
            RotateOutcome::Invalid => Self::Invalid,
        }
    }
}

/// The table of cases of [`decide_rotation`]: checked against the function
/// itself here and against every store by the conformance suite.
pub const ROTATION_CASES: &[RotationCase] = &[
    RotationCase {
        name: "current token rotates",
        presents: CasePresents::Current,
        session: CaseSession::Open,
        grace_secs: 0,
        expected: CaseAnswer::Rotated,
    },
    RotationCase {
        name: "current token rotates with a grace",
        presents: CasePresents::Current,
        session: CaseSession::Open,
        grace_secs: 10,
        expected: CaseAnswer::Rotated,
    },
    RotationCase {
        name: "previous token within the grace",
        presents: CasePresents::Previous {
            rotated_secs_ago: 5,
        },
        session: CaseSession::Open,
        grace_secs: 10,
        expected: CaseAnswer::Rotated,
    },
    RotationCase {
        name: "previous token at the end of the grace",
        presents: CasePresents::Previous {
            rotated_secs_ago: 10,
        },
        session: CaseSession::Open,
        grace_secs: 10,
        expected: CaseAnswer::Reused,
    },
    RotationCase {
        name: "previous token without a grace",
        presents: CasePresents::Previous {
            rotated_secs_ago: 5,
        },
        session: CaseSession::Open,
        grace_secs: 0,
        expected: CaseAnswer::Reused,
    },
    RotationCase {
        name: "clock stepped back, no grace",
        presents: CasePresents::Previous {
            rotated_secs_ago: -1,
        },
        session: CaseSession::Open,
        grace_secs: 0,
        expected: CaseAnswer::Reused,
    },
    RotationCase {
        name: "older token within the grace",
        presents: CasePresents::Older,
        session: CaseSession::Open,
        grace_secs: 10,
        expected: CaseAnswer::Reused,
    },
    RotationCase {
        name: "revoked session",
        presents: CasePresents::Current,
        session: CaseSession::Revoked,
        grace_secs: 0,
        expected: CaseAnswer::Invalid,
    },
    RotationCase {
        name: "revoked session, previous token in grace",
        presents: CasePresents::Previous {
            rotated_secs_ago: 5,
        },
        session: CaseSession::Revoked,
        grace_secs: 10,
        expected: CaseAnswer::Invalid,
    },
    RotationCase {
        name: "expired session",
        presents: CasePresents::Current,
        session: CaseSession::Expired,
        grace_secs: 0,
        expected: CaseAnswer::Invalid,
    },
    RotationCase {
        name: "expired session, rotated token",
        presents: CasePresents::Previous {
            rotated_secs_ago: 5,
        },
        session: CaseSession::Expired,
        grace_secs: 0,
        expected: CaseAnswer::Invalid,
    },
    RotationCase {
        name: "idle session",
        presents: CasePresents::Current,
        session: CaseSession::Idle,
        grace_secs: 0,
        expected: CaseAnswer::Invalid,
    },
];

/// The idle timeout of every [`RotationCase`].
pub const CASE_IDLE_TIMEOUT_SECS: i64 = 30 * 60;

#[cfg(test)]
mod rotation_tests {
    use super::*;
    use chrono::Duration;

    /// Each row, as the inputs the pure function sees.
    #[test]
    fn decide_rotation_answers_every_row_of_the_table() {
        let now = Utc::now();
        for case in ROTATION_CASES {
            let presented = TokenHash::of_token("presented");
            let current = TokenHash::of_token("current");
            let (state, current, last_seen) = match case.presents {
                CasePresents::Current => (
                    RefreshState {
                        rotated_at: None,
                        replaced_by: None,
                    },
                    presented,
                    now - Duration::minutes(1),
                ),
                CasePresents::Previous { rotated_secs_ago } => {
                    let at = now - Duration::seconds(rotated_secs_ago);
                    let state = RefreshState {
                        rotated_at: Some(at),
                        replaced_by: Some(current),
                    };
                    (state, current, at.min(now))
                }
                CasePresents::Older => (
                    RefreshState {
                        rotated_at: Some(now - Duration::seconds(2)),
                        replaced_by: Some(TokenHash::of_token("between")),
                    },
                    current,
                    now - Duration::seconds(1),
                ),
            };
            let session = Session {
                id: Uuid::now_v7(),
                user_id: Uuid::now_v7(),
                ip: None,
                user_agent: None,
                created_at: now - Duration::hours(1),
                last_seen_at: match case.session {
                    CaseSession::Idle => now - Duration::seconds(CASE_IDLE_TIMEOUT_SECS),
                    _ => last_seen,
                },
                expires_at: match case.session {
                    CaseSession::Expired => now,
                    _ => now + Duration::hours(1),
                },
                revoked_at: (case.session == CaseSession::Revoked).then_some(now),
                revoke_reason: None,
            };
            let req = RotateRefresh {
                presented,
                replacement: TokenHash::of_token("replacement"),
                now,
                idle_timeout: Duration::seconds(CASE_IDLE_TIMEOUT_SECS),
                reuse_grace: Duration::seconds(case.grace_secs),
            };
            let answer = decide_rotation(&req, &session, state, Some(current));
            assert_eq!(CaseAnswer::from(answer), case.expected, "{}", case.name);
        }
    }
}
