-- Real clouds: which provider grants access in an account, the state of each role there as
-- the cloud reports it, Gatehouse's SAML IdP signing keys, roles waiting to be deleted in a
-- cloud, and the session denials that stand in for revoking a cloud's STS token.

ALTER TABLE accounts ADD COLUMN provider TEXT NOT NULL DEFAULT 'local'
    CHECK (provider IN ('local', 'alibaba', 'aws'));
ALTER TABLE accounts ADD COLUMN site TEXT NOT NULL DEFAULT 'international'
    CHECK (site IN ('international', 'china'));
ALTER TABLE accounts ADD COLUMN region TEXT;


ALTER TABLE provisioned_roles DROP CONSTRAINT provisioned_roles_status_check;
ALTER TABLE provisioned_roles ADD CONSTRAINT provisioned_roles_status_check
    CHECK (status IN ('provisioned', 'needs_reprovisioning', 'not_provisioned',
                      'provisioning', 'failed', 'drifted'));
-- The version being provisioned while `provisioning`.
ALTER TABLE provisioned_roles ADD COLUMN target_version BIGINT;
-- Whoever works on the role holds it until then (several instances, crashes).
ALTER TABLE provisioned_roles ADD COLUMN lease_until BIGINT;
-- JSON: what the cloud answered when the last attempt failed.
ALTER TABLE provisioned_roles ADD COLUMN fault TEXT;
-- JSON array: how the role in the cloud differs from what was provisioned.
ALTER TABLE provisioned_roles ADD COLUMN drift TEXT;
ALTER TABLE provisioned_roles ADD COLUMN checked_at BIGINT;
CREATE INDEX provisioned_roles_status ON provisioned_roles (status);

-- Gatehouse's SAML IdP signing keys. The private key is sealed under the master key
-- (purpose `idp-signing-key`). `next` is published in the metadata before it signs.
CREATE TABLE idp_keys (
    id           TEXT PRIMARY KEY,
    state        TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    private_key  TEXT NOT NULL,
    -- base64 DER of the self-signed certificate.
    certificate  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    activated_at BIGINT,
    retired_at   BIGINT
);
CREATE UNIQUE INDEX idp_keys_one_active ON idp_keys (state) WHERE state IN ('next', 'active');

-- A role the last assignment left in a cloud account: deleted there by the job.
CREATE TABLE cloud_role_removals (
    account_id  TEXT NOT NULL,
    role_name   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    lease_until BIGINT,
    attempts    BIGINT NOT NULL DEFAULT 0,
    fault       TEXT,
    PRIMARY KEY (account_id, role_name)
);

-- A cloud that cannot recall a token is told to deny the token's session until it expires.
CREATE TABLE cloud_session_denials (
    account_id   TEXT NOT NULL,
    role_name    TEXT NOT NULL,
    session_name TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    -- Set once the cloud holds the denial; the row goes once the cloud no longer does.
    applied_at   BIGINT,
    lease_until  BIGINT,
    fault        TEXT,
    PRIMARY KEY (account_id, role_name, session_name)
);

-- Which provider issued a credential, and the role session name it was issued under.
ALTER TABLE sts_credentials ADD COLUMN provider TEXT NOT NULL DEFAULT 'local';
ALTER TABLE sts_credentials ADD COLUMN session_name TEXT;
-- The just-in-time grant it was issued under: ending the grant early denies a cloud's session.
ALTER TABLE sts_credentials ADD COLUMN grant_id TEXT;
