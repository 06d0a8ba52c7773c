-- The administrator's lock (MySQL / MariaDB), kept apart from the failure
-- lock (failed_login_count, last_failed_login_at, locked_until): a
-- password reset or a successful login clears the failure lock only; an
-- administrator's unlock lifts both. An indefinite lock ends in year 9999.
ALTER TABLE authkit_users
    ADD COLUMN admin_locked_until DATETIME(6) NULL,
    ADD COLUMN admin_lock_reason  TEXT NULL,
    ADD COLUMN admin_locked_by    BINARY(16) NULL,
    ADD COLUMN admin_locked_at    DATETIME(6) NULL;

-- Until now locked_until held both locks. A lock still in force is carried
-- over as an administrator's lock (no actor, no reason), so that none is
-- lost to a reset: it ends when it was due to, or at an unlock.
UPDATE authkit_users
SET admin_locked_until = locked_until, admin_locked_at = updated_at
WHERE locked_until > UTC_TIMESTAMP(6);
