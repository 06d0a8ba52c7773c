-- Social / OpenID Connect identities (SQLite): which provider account
-- (provider, subject) signs in as which local account. Sign-in finds the
-- account by (provider, subject) only; an account has at most one
-- identity per provider.
CREATE TABLE authkit_identities (
    provider        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    user_id         BLOB NOT NULL,
    -- What the provider reported when the identity was linked.
    email           TEXT,
    email_verified  INTEGER NOT NULL,
    linked_at       TEXT NOT NULL,
    PRIMARY KEY (provider, subject),
    UNIQUE (user_id, provider)
);
