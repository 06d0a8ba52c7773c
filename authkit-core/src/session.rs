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
