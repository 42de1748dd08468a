-- The root-credential vault and split-custody break-glass requests (backend/src/breakglass/).
-- The root password and TOTP seed are sealed under the master key (purpose
-- `vault:<entry-id>:password` / `vault:<entry-id>:totp`); nothing else here is secret.
-- Times are Unix milliseconds.

-- One entry per account's root credential. The custodian groups are not foreign keys: a
-- deleted group simply has no members, so no one can approve until an administrator
-- names another group.
CREATE TABLE vault_entries (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL UNIQUE REFERENCES accounts (id) ON DELETE CASCADE,
    password_enc         TEXT NOT NULL,
    totp_seed_enc        TEXT NOT NULL,
    password_group_id    TEXT NOT NULL,
    mfa_group_id         TEXT NOT NULL,
    -- M and N: approvals needed from each custodian group.
    password_approvals   BIGINT NOT NULL,
    mfa_approvals        BIGINT NOT NULL,
    window_secs          BIGINT NOT NULL,
    -- Set by the first reveal or root session of a request; cleared by a recorded rotation.
    rotation_required_at BIGINT,
    rotated_at           BIGINT,
    rotated_by           TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);

-- A request moves pending -> approved (window open) -> closed, or pending -> rejected /
-- cancelled / expired. Every change bumps `version` (compare-and-set).
CREATE TABLE breakglass_requests (
    id             TEXT PRIMARY KEY,
    vault_entry_id TEXT NOT NULL REFERENCES vault_entries (id) ON DELETE CASCADE,
    account_id     TEXT NOT NULL,
    requester_id   TEXT NOT NULL,
    requester_name TEXT NOT NULL,
    justification  TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'cancelled', 'expired', 'closed')),
    version        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    -- The pending deadline.
    expires_at     BIGINT NOT NULL,
    decided_at     BIGINT,
    window_ends_at BIGINT,
    first_used_at  BIGINT,
    review_note    TEXT,
    reviewed_at    BIGINT,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX breakglass_requests_status ON breakglass_requests (status, expires_at);
CREATE INDEX breakglass_requests_requester ON breakglass_requests (requester_id, created_at);

-- One decision per person per request.
CREATE TABLE breakglass_approvals (
    request_id    TEXT NOT NULL REFERENCES breakglass_requests (id) ON DELETE CASCADE,
    approver_id   TEXT NOT NULL,
    approver_name TEXT NOT NULL,
    decision      TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    comment       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (request_id, approver_id)
);

-- Task-scoped root sessions issued under a request (the credentials themselves are
-- stateless STS credentials: see backend/src/sts/token.rs).
CREATE TABLE breakglass_root_sessions (
    access_key_id TEXT PRIMARY KEY,
    request_id    TEXT NOT NULL REFERENCES breakglass_requests (id) ON DELETE CASCADE,
    task          TEXT NOT NULL,
    issued_at     BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX breakglass_root_sessions_request ON breakglass_root_sessions (request_id);
