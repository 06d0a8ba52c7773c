-- Organisations (PostgreSQL): organisations, memberships with their
-- organisation role, and invitations (token stored as its SHA-256).

CREATE TABLE authkit_orgs (
    id          UUID PRIMARY KEY,
    slug        TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT authkit_orgs_slug_key UNIQUE (slug)
);

-- One membership per (organisation, account).
CREATE TABLE authkit_org_members (
    org_id      UUID NOT NULL,
    user_id     UUID NOT NULL,
    role        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX authkit_org_members_user_idx ON authkit_org_members (user_id);

-- closed_at: accepted, withdrawn or superseded.
CREATE TABLE authkit_org_invites (
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    token_hash  BYTEA NOT NULL,
    invited_by  UUID NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    closed_at   TIMESTAMPTZ,
    CONSTRAINT authkit_org_invites_hash_key UNIQUE (token_hash)
);
CREATE INDEX authkit_org_invites_org_idx ON authkit_org_invites (org_id, email);
