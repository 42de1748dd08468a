-- Permission sets (CloudSSO "access configurations"), standing assignments of them to users
-- and groups on accounts, and the RAM role each becomes in each assigned account. Times are
-- Unix milliseconds (BIGINT) on both engines.

CREATE TABLE permission_sets (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    description           TEXT NOT NULL,
    session_duration_secs BIGINT NOT NULL,
    relay_state           TEXT,
    -- A JSON array of system policy names from the built-in catalogue.
    system_policies       TEXT NOT NULL,
    inline_policy         TEXT,
    -- Bumped by every change; a role is current when it was provisioned at this version.
    version               BIGINT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
-- RAM role names are case-insensitive, so two permission sets may not differ only in case.
CREATE UNIQUE INDEX permission_sets_name ON permission_sets (LOWER(name));

-- A principal is a user or a group (no foreign key: it names one of two tables); deleting
-- the user or group deletes its assignments in the same transaction.
CREATE TABLE assignments (
    id                TEXT PRIMARY KEY,
    principal_type    TEXT NOT NULL CHECK (principal_type IN ('user', 'group')),
    principal_id      TEXT NOT NULL,
    account_id        TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    permission_set_id TEXT NOT NULL REFERENCES permission_sets (id),
    created_at        BIGINT NOT NULL,
    UNIQUE (principal_type, principal_id, account_id, permission_set_id)
);
CREATE INDEX assignments_account ON assignments (account_id);
CREATE INDEX assignments_permission_set ON assignments (permission_set_id, account_id);
CREATE INDEX assignments_principal ON assignments (principal_type, principal_id);

-- One RAM role per (permission set, account) that has at least one assignment.
CREATE TABLE provisioned_roles (
    permission_set_id   TEXT NOT NULL REFERENCES permission_sets (id) ON DELETE CASCADE,
    account_id          TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status              TEXT NOT NULL
        CHECK (status IN ('provisioned', 'needs_reprovisioning', 'not_provisioned')),
    provisioned_at      BIGINT,
    provisioned_version BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (permission_set_id, account_id)
);
CREATE INDEX provisioned_roles_account ON provisioned_roles (account_id);
