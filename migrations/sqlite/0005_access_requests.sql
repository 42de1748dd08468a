-- Just-in-time access: who may ask for what (eligibility policies), who must agree
-- (approval policies), the requests themselves with every decision, and the approver set
-- each request was resolved to. A grant is a request in state `active`: its id is the
-- request's id. Times are Unix milliseconds. See backend/src/requests/.

-- A user or group may ask for these permission sets on these accounts (JSON arrays of ids;
-- ["*"] means any), for at most max_duration_secs.
CREATE TABLE eligibility_policies (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    principal_type         TEXT NOT NULL CHECK (principal_type IN ('user', 'group')),
    principal_id           TEXT NOT NULL,
    account_ids            TEXT NOT NULL,
    permission_set_ids     TEXT NOT NULL,
    max_duration_secs      BIGINT NOT NULL,
    approval_required      INTEGER NOT NULL,
    justification_required INTEGER NOT NULL,
    ticket_required        INTEGER NOT NULL,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);

-- Who approves requests for an account and permission set ('*' = any), how many must.
CREATE TABLE approval_policies (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    account_id            TEXT NOT NULL,
    permission_set_id     TEXT NOT NULL,
    approver_group_ids    TEXT NOT NULL,
    approver_user_ids     TEXT NOT NULL,
    approvals_needed      BIGINT NOT NULL,
    rejections_to_end     BIGINT NOT NULL,
    mfa_required          INTEGER NOT NULL,
    pending_lifetime_secs BIGINT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);

-- One request and, once active, its grant. `version` moves with every change: writers
-- compare-and-set on it, so of two racing transitions exactly one wins.
CREATE TABLE access_requests (
    id                  TEXT PRIMARY KEY,
    requester_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    requester_name      TEXT NOT NULL,
    account_id          TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    permission_set_id   TEXT NOT NULL REFERENCES permission_sets (id) ON DELETE CASCADE,
    duration_secs       BIGINT NOT NULL,
    justification       TEXT NOT NULL,
    ticket              TEXT,
    requested_start_at  BIGINT,
    state               TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'active', 'rejected',
                            'cancelled', 'timed_out', 'ended', 'expired', 'revoked')),
    version             BIGINT NOT NULL,
    approval_required   INTEGER NOT NULL,
    approvals_needed    BIGINT NOT NULL,
    rejections_to_end   BIGINT NOT NULL,
    mfa_required        INTEGER NOT NULL,
    pending_expires_at  BIGINT NOT NULL,
    starts_at           BIGINT,
    ends_at             BIGINT,
    closed_at           BIGINT,
    closed_by           TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX access_requests_state ON access_requests (state);
CREATE INDEX access_requests_requester ON access_requests (requester_id, created_at);

-- The approvers a request was resolved to (users, and groups whose CURRENT members count).
CREATE TABLE access_request_approvers (
    request_id     TEXT NOT NULL REFERENCES access_requests (id) ON DELETE CASCADE,
    principal_type TEXT NOT NULL CHECK (principal_type IN ('user', 'group')),
    principal_id   TEXT NOT NULL,
    PRIMARY KEY (request_id, principal_type, principal_id)
);

-- One decision per person per request: a second one is refused by the primary key.
CREATE TABLE access_request_decisions (
    request_id    TEXT NOT NULL REFERENCES access_requests (id) ON DELETE CASCADE,
    approver_id   TEXT NOT NULL,
    approver_name TEXT NOT NULL,
    decision      TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    comment       TEXT NOT NULL,
    decided_at    BIGINT NOT NULL,
    PRIMARY KEY (request_id, approver_id)
);

-- Revocations gain a kind: every credential issued under grant `subject`. SQLite cannot
-- change a CHECK constraint in place, so the table is rebuilt.
CREATE TABLE sts_revocations_new (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('key', 'user', 'grant')),
    subject    TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO sts_revocations_new SELECT id, kind, subject, not_before, expires_at, created_at FROM sts_revocations;
DROP TABLE sts_revocations;
ALTER TABLE sts_revocations_new RENAME TO sts_revocations;
CREATE INDEX sts_revocations_expires ON sts_revocations (expires_at);
