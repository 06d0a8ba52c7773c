-- Social / OpenID Connect identities (MySQL / MariaDB): which provider
-- account (provider, subject) signs in as which local account. Sign-in
-- finds the account by (provider, subject) only; an account has at most
-- one identity per provider. Binary collation: subjects are
-- case-sensitive.
CREATE TABLE authkit_identities (
    provider        VARCHAR(64) NOT NULL,
    subject         VARCHAR(255) NOT NULL,
    user_id         BINARY(16) NOT NULL,
    -- What the provider reported when the identity was linked.
    email           VARCHAR(320) NULL,
    email_verified  BOOLEAN NOT NULL,
    linked_at       DATETIME(6) NOT NULL,
    PRIMARY KEY (provider, subject),
    UNIQUE KEY authkit_identities_user_provider_key (user_id, provider)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
