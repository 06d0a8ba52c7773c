-- The administrator's lock (SQLite), kept apart from the failure lock
-- (failed_login_count, last_failed_login_at, locked_until): a password
-- reset or a successful login clears the failure lock only; an
-- administrator's unlock lifts both. An indefinite lock ends in year 9999.
ALTER TABLE authkit_users ADD COLUMN admin_locked_until TEXT;
ALTER TABLE authkit_users ADD COLUMN admin_lock_reason TEXT;
ALTER TABLE authkit_users ADD COLUMN admin_locked_by BLOB;
ALTER TABLE authkit_users ADD COLUMN admin_locked_at TEXT;

-- Until now locked_until held both locks. A lock still in force is carried
-- over as an administrator's lock (no actor, no reason), so that none is
-- lost to a reset: it ends when it was due to, or at an unlock. Times are
-- RFC 3339 UTC text, which sorts in time order.
UPDATE authkit_users
SET admin_locked_until = locked_until, admin_locked_at = updated_at
WHERE locked_until > strftime('%Y-%m-%dT%H:%M:%S', 'now');
