-- Multi-factor state (SQLite): TOTP enrolments, backup codes, the MFA
-- failure budget and known sign-in devices, all keyed by account.

-- One enrolment per account; the secret is stored encrypted.
CREATE TABLE authkit_totp (
    user_id       BLOB PRIMARY KEY,
    secret        BLOB NOT NULL,
    algorithm     TEXT NOT NULL,
    digits        INTEGER NOT NULL,
    period        INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    confirmed_at  TEXT,
    -- The last accepted time step (replay protection).
    last_step     INTEGER
);

-- Backup codes as 32-byte hashes.
CREATE TABLE authkit_backup_codes (
    user_id     BLOB NOT NULL,
    hash        BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    used_at     TEXT,
    PRIMARY KEY (user_id, hash)
);

-- Failed second-factor attempts, shared by every MFA method.
CREATE TABLE authkit_mfa_failures (
    user_id          BLOB PRIMARY KEY,
    failure_count    INTEGER NOT NULL,
    last_failure_at  TEXT NOT NULL
);

-- Devices (keyed fingerprints) an account signed in from.
CREATE TABLE authkit_known_devices (
    user_id        BLOB NOT NULL,
    device_hash    BLOB NOT NULL,
    first_seen_at  TEXT NOT NULL,
    last_seen_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, device_hash)
);
