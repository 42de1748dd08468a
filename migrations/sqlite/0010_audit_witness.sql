-- Checkpoints chain: each new one signs the hash of the one before (NULL on checkpoints
-- written before this migration, which sign the v1 message). See docs/AUDIT.md.
ALTER TABLE audit_checkpoints ADD COLUMN prev_hash TEXT;

-- The RFC 3161 time-stamp token (base64 DER) a time-stamp authority gave each checkpoint's
-- hash; the same token goes into the witness file's line for it.
CREATE TABLE audit_checkpoint_stamps (
    checkpoint_id BIGINT PRIMARY KEY,
    token         TEXT NOT NULL,
    stamped_at    BIGINT NOT NULL
);

CREATE TRIGGER audit_checkpoint_stamps_no_update BEFORE UPDATE ON audit_checkpoint_stamps
BEGIN SELECT RAISE(ABORT, 'audit_checkpoint_stamps is append-only'); END;
CREATE TRIGGER audit_checkpoint_stamps_no_delete BEFORE DELETE ON audit_checkpoint_stamps
BEGIN SELECT RAISE(ABORT, 'audit_checkpoint_stamps is append-only'); END;
