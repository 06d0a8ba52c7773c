-- authkit initial schema (MySQL / MariaDB). Shipped migrations are never
-- edited: later changes come as new files. Ids are BINARY(16), times
-- DATETIME(6) in UTC, text compared byte-wise (utf8mb4_bin) since emails are
-- normalized before they reach the store.

CREATE TABLE authkit_users (
    id                    BINARY(16) NOT NULL PRIMARY KEY,
    email                 VARCHAR(320) NOT NULL,
    email_verified_at     DATETIME(6) NULL,
    phone                 VARCHAR(32) NULL,
    phone_verified_at     DATETIME(6) NULL,
    password_hash         TEXT NULL,
    display_name          TEXT NULL,
    avatar_url            TEXT NULL,
    is_active             BOOLEAN NOT NULL,
    must_change_password  BOOLEAN NOT NULL,
    password_changed_at   DATETIME(6) NULL,
    failed_login_count    BIGINT NOT NULL DEFAULT 0,
    last_failed_login_at  DATETIME(6) NULL,
    locked_until          DATETIME(6) NULL,
    roles                 TEXT NOT NULL,
    created_at            DATETIME(6) NOT NULL,
    updated_at            DATETIME(6) NOT NULL,
    UNIQUE KEY authkit_users_email_key (email),
    KEY authkit_users_phone_idx (phone)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE authkit_sessions (
    id             BINARY(16) NOT NULL PRIMARY KEY,
    user_id        BINARY(16) NOT NULL,
    ip             TEXT NULL,
    user_agent     TEXT NULL,
    created_at     DATETIME(6) NOT NULL,
    last_seen_at   DATETIME(6) NOT NULL,
    expires_at     DATETIME(6) NOT NULL,
    revoked_at     DATETIME(6) NULL,
    revoke_reason  TEXT NULL,
    KEY authkit_sessions_user_idx (user_id, created_at),
    KEY authkit_sessions_expires_idx (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE authkit_refresh_tokens (
    hash         BINARY(32) NOT NULL PRIMARY KEY,
    session_id   BINARY(16) NOT NULL,
    rotated_at   DATETIME(6) NULL,
    replaced_by  BINARY(32) NULL,
    KEY authkit_refresh_tokens_session_idx (session_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE authkit_one_time_tokens (
    id            BINARY(16) NOT NULL PRIMARY KEY,
    purpose       VARCHAR(32) NOT NULL,
    subject       VARCHAR(255) NOT NULL,
    hash          BINARY(32) NOT NULL,
    payload       TEXT NOT NULL,
    created_at    DATETIME(6) NOT NULL,
    expires_at    DATETIME(6) NOT NULL,
    attempts      BIGINT NOT NULL,
    max_attempts  BIGINT NOT NULL,
    consumed_at   DATETIME(6) NULL,
    -- Newest-only: at most one unconsumed token per (purpose, subject)
    -- (NULL keys do not collide), so two concurrent issues cannot both stay
    -- live.
    live_key      VARCHAR(300) AS (IF(consumed_at IS NULL, CONCAT(purpose, ':', subject), NULL)) STORED,
    KEY authkit_one_time_tokens_hash_idx (purpose, hash),
    KEY authkit_one_time_tokens_subject_idx (purpose, subject, created_at),
    UNIQUE KEY authkit_one_time_tokens_live_key (live_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE authkit_audit_log (
    id          BINARY(16) NOT NULL PRIMARY KEY,
    at          DATETIME(6) NOT NULL,
    event       VARCHAR(128) NOT NULL,
    user_id     BINARY(16) NULL,
    ip          TEXT NULL,
    user_agent  TEXT NULL,
    data        LONGTEXT NOT NULL,
    KEY authkit_audit_log_at_idx (at, id),
    KEY authkit_audit_log_user_idx (user_id, at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE authkit_signing_keys (
    kid               VARCHAR(255) NOT NULL PRIMARY KEY,
    algorithm         VARCHAR(16) NOT NULL,
    private_material  TEXT NOT NULL,
    created_at        DATETIME(6) NOT NULL,
    retired_at        DATETIME(6) NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
