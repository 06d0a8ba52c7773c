-- Organisations (MySQL / MariaDB): organisations, memberships with their
-- organisation role, and invitations (token stored as its SHA-256).

CREATE TABLE authkit_orgs (
    id          BINARY(16) NOT NULL PRIMARY KEY,
    slug        VARCHAR(64) NOT NULL,
    name        VARCHAR(255) NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    updated_at  DATETIME(6) NOT NULL,
    UNIQUE KEY authkit_orgs_slug_key (slug)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One membership per (organisation, account).
CREATE TABLE authkit_org_members (
    org_id      BINARY(16) NOT NULL,
    user_id     BINARY(16) NOT NULL,
    role        VARCHAR(100) NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    updated_at  DATETIME(6) NOT NULL,
    PRIMARY KEY (org_id, user_id),
    KEY authkit_org_members_user_idx (user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- closed_at: accepted, withdrawn or superseded.
CREATE TABLE authkit_org_invites (
    id          BINARY(16) NOT NULL PRIMARY KEY,
    org_id      BINARY(16) NOT NULL,
    email       VARCHAR(320) NOT NULL,
    role        VARCHAR(100) NOT NULL,
    token_hash  BINARY(32) NOT NULL,
    invited_by  BINARY(16) NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    expires_at  DATETIME(6) NOT NULL,
    closed_at   DATETIME(6) NULL,
    UNIQUE KEY authkit_org_invites_hash_key (token_hash),
    KEY authkit_org_invites_org_idx (org_id, email)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
