-- Organisations (SQLite): organisations, memberships with their
-- organisation role, and invitations (token stored as its SHA-256).

CREATE TABLE authkit_orgs (
    id          BLOB PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- One membership per (organisation, account).
CREATE TABLE authkit_org_members (
    org_id      BLOB NOT NULL,
    user_id     BLOB NOT NULL,
    role        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX authkit_org_members_user_idx ON authkit_org_members (user_id);

-- closed_at: accepted, withdrawn or superseded.
CREATE TABLE authkit_org_invites (
    id          BLOB PRIMARY KEY,
    org_id      BLOB NOT NULL,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,
    invited_by  BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    closed_at   TEXT
);
CREATE INDEX authkit_org_invites_org_idx ON authkit_org_invites (org_id, email);
