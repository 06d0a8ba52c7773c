-- Social / OpenID Connect identities (PostgreSQL): which provider account
-- (provider, subject) signs in as which local account. Sign-in finds the
-- account by (provider, subject) only; an account has at most one
-- identity per provider.
CREATE TABLE authkit_identities (
    provider        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    user_id         UUID NOT NULL,
    -- What the provider reported when the identity was linked.
    email           TEXT,
    email_verified  BOOLEAN NOT NULL,
    linked_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, subject),
    CONSTRAINT authkit_identities_user_provider_key UNIQUE (user_id, provider)
);
