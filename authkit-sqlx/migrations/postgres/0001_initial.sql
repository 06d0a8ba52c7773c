-- authkit initial schema (PostgreSQL). Shipped migrations are never edited:
-- later changes come as new files.

CREATE TABLE authkit_users (
    id                    UUID PRIMARY KEY,
    email                 TEXT NOT NULL,
    email_verified_at     TIMESTAMPTZ,
    phone                 TEXT,
    phone_verified_at     TIMESTAMPTZ,
    password_hash         TEXT,
    display_name          TEXT,
    avatar_url            TEXT,
    is_active             BOOLEAN NOT NULL,
    must_change_password  BOOLEAN NOT NULL,
    password_changed_at   TIMESTAMPTZ,
    failed_login_count    BIGINT NOT NULL DEFAULT 0,
    last_failed_login_at  TIMESTAMPTZ,
    locked_until          TIMESTAMPTZ,
    roles                 TEXT NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    CONSTRAINT authkit_users_email_key UNIQUE (email)
);
-- Several accounts may share a verified phone (the lookup returns a list).
CREATE INDEX authkit_users_phone_idx ON authkit_users (phone) WHERE phone IS NOT NULL;

CREATE TABLE authkit_sessions (
    id             UUID PRIMARY KEY,
    user_id        UUID NOT NULL,
    ip             TEXT,
    user_agent     TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    revoked_at     TIMESTAMPTZ,
    revoke_reason  TEXT
);
CREATE INDEX authkit_sessions_user_idx ON authkit_sessions (user_id, created_at);
CREATE INDEX authkit_sessions_expires_idx ON authkit_sessions (expires_at);

CREATE TABLE authkit_refresh_tokens (
    hash         BYTEA PRIMARY KEY,
    session_id   UUID NOT NULL,
    rotated_at   TIMESTAMPTZ,
    replaced_by  BYTEA
);
CREATE INDEX authkit_refresh_tokens_session_idx ON authkit_refresh_tokens (session_id);

CREATE TABLE authkit_one_time_tokens (
    id            UUID PRIMARY KEY,
    purpose       TEXT NOT NULL,
    subject       TEXT NOT NULL,
    hash          BYTEA NOT NULL,
    payload       TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    attempts      BIGINT NOT NULL,
    max_attempts  BIGINT NOT NULL,
    consumed_at   TIMESTAMPTZ
);
CREATE INDEX authkit_one_time_tokens_hash_idx ON authkit_one_time_tokens (purpose, hash);
CREATE INDEX authkit_one_time_tokens_subject_idx ON authkit_one_time_tokens (purpose, subject, created_at);
-- Newest-only: at most one unconsumed token per (purpose, subject), so two
-- concurrent issues cannot both stay live.
CREATE UNIQUE INDEX authkit_one_time_tokens_live_key
    ON authkit_one_time_tokens (purpose, subject) WHERE consumed_at IS NULL;

CREATE TABLE authkit_audit_log (
    id          UUID PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    event       TEXT NOT NULL,
    user_id     UUID,
    ip          TEXT,
    user_agent  TEXT,
    data        JSONB NOT NULL
);
CREATE INDEX authkit_audit_log_at_idx ON authkit_audit_log (at, id);
CREATE INDEX authkit_audit_log_user_idx ON authkit_audit_log (user_id, at);

-- The audit log is append-only, whoever connects.
CREATE FUNCTION authkit_audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'authkit_audit_log is append-only';
END;
$$;
CREATE TRIGGER authkit_audit_log_no_update_or_delete
    BEFORE UPDATE OR DELETE ON authkit_audit_log
    FOR EACH ROW EXECUTE FUNCTION authkit_audit_log_append_only();
CREATE TRIGGER authkit_audit_log_no_truncate
    BEFORE TRUNCATE ON authkit_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION authkit_audit_log_append_only();

CREATE TABLE authkit_signing_keys (
    kid               TEXT PRIMARY KEY,
    algorithm         TEXT NOT NULL,
    private_material  TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    retired_at        TIMESTAMPTZ
);
