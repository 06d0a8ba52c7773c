-- Multi-factor state (MySQL / MariaDB): TOTP enrolments, backup codes, the
-- MFA failure budget and known sign-in devices, all keyed by account.

-- One enrolment per account; the secret is stored encrypted.
CREATE TABLE authkit_totp (
    user_id       BINARY(16) NOT NULL PRIMARY KEY,
    secret        BLOB NOT NULL,
    algorithm     VARCHAR(16) NOT NULL,
    digits        BIGINT NOT NULL,
    period        BIGINT NOT NULL,
    created_at    DATETIME(6) NOT NULL,
    confirmed_at  DATETIME(6) NULL,
    -- The last accepted time step (replay protection).
    last_step     BIGINT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Backup codes as 32-byte hashes.
CREATE TABLE authkit_backup_codes (
    user_id     BINARY(16) NOT NULL,
    hash        BINARY(32) NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    used_at     DATETIME(6) NULL,
    PRIMARY KEY (user_id, hash)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Failed second-factor attempts, shared by every MFA method.
CREATE TABLE authkit_mfa_failures (
    user_id          BINARY(16) NOT NULL PRIMARY KEY,
    failure_count    BIGINT NOT NULL,
    last_failure_at  DATETIME(6) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Devices (keyed fingerprints) an account signed in from.
CREATE TABLE authkit_known_devices (
    user_id        BINARY(16) NOT NULL,
    device_hash    BINARY(32) NOT NULL,
    first_seen_at  DATETIME(6) NOT NULL,
    last_seen_at   DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, device_hash)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
