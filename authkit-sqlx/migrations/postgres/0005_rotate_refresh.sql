-- Refresh-token rotation in one round trip (PostgreSQL).
--
-- The store calls this function as a single statement. It runs the same
-- rules as the portable transaction (see src/transitions.rs): lock the
-- session, which serializes every rotation of its family; re-read the
-- presented and the current token under that lock; then rotate, revoke for
-- reuse, or answer nothing (invalid).
--
-- Why a function and not one data-modifying CTE: a single statement reads
-- every table through one snapshot taken before it waits on the session
-- lock, so it cannot see the token a concurrent rotation just inserted. In
-- the grace period (a client that sends the same refresh twice) that token
-- is the one to retire; a CTE would report reuse and revoke the session. A
-- VOLATILE plpgsql function takes a fresh snapshot for each statement, so
-- after the lock it sees the latest committed family.
--
-- Arguments (times computed by the caller, which owns the clock):
--   presented     hash of the presented refresh token
--   replacement   hash of the new token
--   at_now        the current time
--   live_after    the session is idle unless last_seen_at > live_after
--                 (now - idle_timeout)
--   grace_after   a rotated token is within the grace period when its
--                 rotated_at > grace_after (now - reuse_grace); NULL when
--                 there is no grace period
--
-- Returns no row for an invalid request, else one row: outcome 'rotated'
-- or 'reused' and the session after the change.

CREATE FUNCTION authkit_rotate_refresh(
    presented    BYTEA,
    replacement  BYTEA,
    at_now       TIMESTAMPTZ,
    live_after   TIMESTAMPTZ,
    grace_after  TIMESTAMPTZ
)
RETURNS TABLE (
    outcome        TEXT,
    id             UUID,
    user_id        UUID,
    ip             TEXT,
    user_agent     TEXT,
    created_at     TIMESTAMPTZ,
    last_seen_at   TIMESTAMPTZ,
    expires_at     TIMESTAMPTZ,
    revoked_at     TIMESTAMPTZ,
    revoke_reason  TEXT
)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    family        UUID;
    s             authkit_sessions%ROWTYPE;
    token         authkit_refresh_tokens%ROWTYPE;
    current_hash  BYTEA;
    retiring      BYTEA;
    verdict       TEXT;
BEGIN
    -- A token's session never changes: find it without a lock.
    SELECT t.session_id INTO family
        FROM authkit_refresh_tokens t WHERE t.hash = presented;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO s FROM authkit_sessions t WHERE t.id = family FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF s.revoked_at IS NOT NULL OR at_now >= s.expires_at OR s.last_seen_at <= live_after THEN
        RETURN;
    END IF;

    -- Under the session lock each statement sees the latest family.
    SELECT * INTO token FROM authkit_refresh_tokens t WHERE t.hash = presented;
    SELECT t.hash INTO current_hash
        FROM authkit_refresh_tokens t
        WHERE t.session_id = family AND t.rotated_at IS NULL
        LIMIT 1;

    IF token.rotated_at IS NULL THEN
        retiring := presented;
    ELSIF grace_after IS NOT NULL AND token.rotated_at > grace_after
          AND current_hash IS NOT NULL AND token.replaced_by = current_hash THEN
        -- The immediately previous token within the grace period.
        retiring := current_hash;
    END IF;

    IF retiring IS NULL THEN
        UPDATE authkit_sessions t
            SET revoked_at = at_now, revoke_reason = 'refresh_token_reused'
            WHERE t.id = family
            RETURNING t.* INTO s;
        verdict := 'reused';
    ELSE
        UPDATE authkit_refresh_tokens t
            SET rotated_at = at_now, replaced_by = replacement
            WHERE t.hash = retiring;
        INSERT INTO authkit_refresh_tokens (hash, session_id) VALUES (replacement, family);
        UPDATE authkit_sessions t
            SET last_seen_at = at_now
            WHERE t.id = family
            RETURNING t.* INTO s;
        verdict := 'rotated';
    END IF;

    RETURN QUERY SELECT verdict, s.id, s.user_id, s.ip, s.user_agent, s.created_at,
        s.last_seen_at, s.expires_at, s.revoked_at, s.revoke_reason;
END;
$$;
