-- Issue 17: STS signature nonces every instance sees, revocable break-glass root sessions,
-- and walking a credential's lineage (role chaining) when it is revoked. Times are Unix
-- milliseconds.

-- Each (access key, signature nonce) accepted, kept for the 30 minutes a signed request
-- can be valid in (backend/src/sts/nonce.rs): a replay is refused on every instance and
-- after a restart. Inserted in batches; the tick deletes rows past `expires_at`.
CREATE TABLE sts_nonces (
    access_key_id TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (access_key_id, nonce)
);
CREATE INDEX sts_nonces_expires ON sts_nonces (expires_at);

-- Revoking a credential revokes those assumed from it, generation by generation.
CREATE INDEX sts_credentials_parent ON sts_credentials (parent_access_key_id);

-- A root session is listed and revoked with the holder's other credentials.
ALTER TABLE breakglass_root_sessions ADD COLUMN revoked_at BIGINT;
