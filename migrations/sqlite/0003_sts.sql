-- STS credentials, their revocations, and credentials_uri capability URLs. Secrets and
-- tokens are never stored: the secret is derived from the key id and the token carries
-- its own claims (backend/src/sts/token.rs). Times are Unix milliseconds.

-- Every credential issued: for whom, for which role, until when. For listing and revoking;
-- verifying a request never reads it.
CREATE TABLE sts_credentials (
    access_key_id        TEXT PRIMARY KEY,
    user_id              TEXT NOT NULL,
    username             TEXT NOT NULL,
    account_id           TEXT NOT NULL,
    permission_set_id    TEXT NOT NULL,
    role_name            TEXT NOT NULL,
    source               TEXT NOT NULL CHECK (source IN ('portal', 'credentials_uri', 'assume_role')),
    -- The credential an AssumeRole call was signed with (role chaining).
    parent_access_key_id TEXT,
    session_policy       INTEGER NOT NULL,
    issued_at            BIGINT NOT NULL,
    expires_at           BIGINT NOT NULL,
    revoked_at           BIGINT
);
CREATE INDEX sts_credentials_user ON sts_credentials (user_id, issued_at);
CREATE INDEX sts_credentials_expires ON sts_credentials (expires_at);

-- What verifiers must refuse before a credential's own expiry: one key (`key`), or every
-- credential of a user issued before `not_before` (`user`). Kept in memory by every
-- instance; a row stops mattering at `expires_at`.
CREATE TABLE sts_revocations (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('key', 'user')),
    subject    TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sts_revocations_expires ON sts_revocations (expires_at);

-- A credentials_uri: whoever holds the URL gets fresh credentials for one role of one user
-- until it expires or is revoked. Only the SHA-256 of the URL's secret part is kept.
CREATE TABLE credential_uris (
    id                TEXT PRIMARY KEY,
    token_hash        TEXT NOT NULL UNIQUE,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id        TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    permission_set_id TEXT NOT NULL REFERENCES permission_sets (id) ON DELETE CASCADE,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    last_used_at      BIGINT,
    revoked_at        BIGINT
);
CREATE INDEX credential_uris_user ON credential_uris (user_id);
