-- Multi-factor state (PostgreSQL): TOTP enrolments, backup codes, the MFA
-- failure budget and known sign-in devices, all keyed by account.

-- One enrolment per account; the secret is stored encrypted.
CREATE TABLE authkit_totp (
    user_id       UUID PRIMARY KEY,
    secret        BYTEA NOT NULL,
    algorithm     TEXT NOT NULL,
    digits        BIGINT NOT NULL,
    period        BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    confirmed_at  TIMESTAMPTZ,
    -- The last accepted time step (replay protection).
    last_step     BIGINT
);

-- Backup codes as 32-byte hashes.
CREATE TABLE authkit_backup_codes (
    user_id     UUID NOT NULL,
    hash        BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    PRIMARY KEY (user_id, hash)
);

-- Failed second-factor attempts, shared by every MFA method.
CREATE TABLE authkit_mfa_failures (
    user_id          UUID PRIMARY KEY,
    failure_count    BIGINT NOT NULL,
    last_failure_at  TIMESTAMPTZ NOT NULL
);

-- Devices (keyed fingerprints) an account signed in from.
CREATE TABLE authkit_known_devices (
    user_id        UUID NOT NULL,
    device_hash    BYTEA NOT NULL,
    first_seen_at  TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, device_hash)
);
