-- authkit initial schema (SQLite: ids as 16-byte BLOBs, times as RFC 3339 UTC text, which sorts in time order). Shipped migrations are never edited:
-- later changes come as new files.

CREATE TABLE authkit_users (
    id                    BLOB PRIMARY KEY,
    email                 TEXT NOT NULL,
    email_verified_at     TEXT,
    phone                 TEXT,
    phone_verified_at     TEXT,
    password_hash         TEXT,
    display_name          TEXT,
    avatar_url            TEXT,
    is_active             INTEGER NOT NULL,
    must_change_password  INTEGER NOT NULL,
    password_changed_at   TEXT,
    failed_login_count    INTEGER NOT NULL DEFAULT 0,
    last_failed_login_at  TEXT,
    locked_until          TEXT,
    roles                 TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    CONSTRAINT authkit_users_email_key UNIQUE (email)
);
-- Several accounts may share a verified phone (the lookup returns a list).
CREATE INDEX authkit_users_phone_idx ON authkit_users (phone) WHERE phone IS NOT NULL;

CREATE TABLE authkit_sessions (
    id             BLOB PRIMARY KEY,
    user_id        BLOB NOT NULL,
    ip             TEXT,
    user_agent     TEXT,
    created_at     TEXT NOT NULL,
    last_seen_at   TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    revoked_at     TEXT,
    revoke_reason  TEXT
);
CREATE INDEX authkit_sessions_user_idx ON authkit_sessions (user_id, created_at);
CREATE INDEX authkit_sessions_expires_idx ON authkit_sessions (expires_at);

CREATE TABLE authkit_refresh_tokens (
    hash         BLOB PRIMARY KEY,
    session_id   BLOB NOT NULL,
    rotated_at   TEXT,
    replaced_by  BLOB
);
CREATE INDEX authkit_refresh_tokens_session_idx ON authkit_refresh_tokens (session_id);

CREATE TABLE authkit_one_time_tokens (
    id            BLOB PRIMARY KEY,
    purpose       TEXT NOT NULL,
    subject       TEXT NOT NULL,
    hash          BLOB NOT NULL,
    payload       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    attempts      INTEGER NOT NULL,
    max_attempts  INTEGER NOT NULL,
    consumed_at   TEXT
);
CREATE INDEX authkit_one_time_tokens_hash_idx ON authkit_one_time_tokens (purpose, hash);
CREATE INDEX authkit_one_time_tokens_subject_idx ON authkit_one_time_tokens (purpose, subject, created_at);
-- Newest-only: at most one unconsumed token per (purpose, subject), so two
-- concurrent issues cannot both stay live.
CREATE UNIQUE INDEX authkit_one_time_tokens_live_key
    ON authkit_one_time_tokens (purpose, subject) WHERE consumed_at IS NULL;

CREATE TABLE authkit_audit_log (
    id          BLOB PRIMARY KEY,
    at          TEXT NOT NULL,
    event       TEXT NOT NULL,
    user_id     BLOB,
    ip          TEXT,
    user_agent  TEXT,
    data        TEXT NOT NULL
);
CREATE INDEX authkit_audit_log_at_idx ON authkit_audit_log (at, id);
CREATE INDEX authkit_audit_log_user_idx ON authkit_audit_log (user_id, at);

-- The audit log is append-only, whoever connects.
CREATE TRIGGER authkit_audit_log_no_update BEFORE UPDATE ON authkit_audit_log
BEGIN
    SELECT RAISE(ABORT, 'authkit_audit_log is append-only');
END;
CREATE TRIGGER authkit_audit_log_no_delete BEFORE DELETE ON authkit_audit_log
BEGIN
    SELECT RAISE(ABORT, 'authkit_audit_log is append-only');
END;

CREATE TABLE authkit_signing_keys (
    kid               TEXT PRIMARY KEY,
    algorithm         TEXT NOT NULL,
    private_material  TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    retired_at        TEXT
);
