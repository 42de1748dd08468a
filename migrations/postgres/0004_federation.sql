-- Federation: identity providers (SAML 2.0 and OIDC), the federated identities they vouch
-- for, outstanding sign-in requests bound to a browser, and the SAML assertion IDs already
-- used (so a replay is refused across restarts and instances). Times are Unix milliseconds.

CREATE TABLE identity_providers (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL UNIQUE,
    kind                  TEXT NOT NULL CHECK (kind IN ('saml', 'oidc')),
    enabled               BOOLEAN NOT NULL DEFAULT TRUE,
    -- Kind-specific settings as JSON: SAML entity ID, SSO URL and signing certificates
    -- (more than one during a rollover); OIDC issuer, client ID and scopes. No secrets.
    settings              TEXT NOT NULL,
    -- The OIDC client secret, sealed under the master key for `idp-secret:<id>`.
    client_secret_enc     TEXT,
    allow_sha1            BOOLEAN NOT NULL DEFAULT FALSE,
    allow_idp_initiated   BOOLEAN NOT NULL DEFAULT FALSE,
    jit_create            BOOLEAN NOT NULL DEFAULT FALSE,
    link_by_verified_email BOOLEAN NOT NULL DEFAULT FALSE,
    -- Attribute / claim names for email, display name, username and groups (JSON).
    mapping               TEXT NOT NULL,
    clock_skew_secs       BIGINT NOT NULL DEFAULT 60,
    max_response_bytes    BIGINT NOT NULL DEFAULT 262144,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);

-- One person at one IdP: the same subject from another IdP is a different person.
CREATE TABLE federated_identities (
    idp_id         TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    subject        TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- JSON array of group IDs this IdP's last sign-in applied.
    applied_groups TEXT NOT NULL DEFAULT '[]',
    created_at     BIGINT NOT NULL,
    last_login_at  BIGINT NOT NULL,
    PRIMARY KEY (idp_id, subject)
);
CREATE INDEX federated_identities_user ON federated_identities (user_id);

-- A sign-in in flight: the SAML AuthnRequest ID or the OIDC state. Bound to the browser by
-- the SHA-256 of a random cookie; consumed by DELETE ... RETURNING so it is used once.
CREATE TABLE federation_requests (
    id                TEXT PRIMARY KEY,
    idp_id            TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    binding_hash      TEXT NOT NULL,
    nonce             TEXT,
    pkce_verifier_enc TEXT,
    return_to         TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL
);
CREATE INDEX federation_requests_binding ON federation_requests (binding_hash, idp_id);
CREATE INDEX federation_requests_expiry ON federation_requests (expires_at);

CREATE TABLE saml_seen_assertions (
    idp_id       TEXT NOT NULL,
    assertion_id TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (idp_id, assertion_id)
);
CREATE INDEX saml_seen_assertions_expiry ON saml_seen_assertions (expires_at);
