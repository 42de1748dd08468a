-- Notifications (backend/src/notify): webhook endpoints, the notifier's cursor over the
-- audit trail, and the deliveries it creates with every attempt made. Times are Unix
-- milliseconds.

-- Where webhooks go. The signing secret is sealed under the master key
-- (purpose "notification-endpoint-secret"); event_types is a comma-separated filter,
-- empty for every type.
CREATE TABLE notification_endpoints (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    url           TEXT NOT NULL,
    event_types   TEXT NOT NULL,
    enabled       BOOLEAN NOT NULL,
    secret_sealed TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- The last audit event the notifier has turned into deliveries. One row; moved only by a
-- compare-and-set in the same transaction that inserts the deliveries. It starts at the
-- chain head as it is when this migration runs: history is not replayed.
CREATE TABLE notification_cursor (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO notification_cursor (id, last_seq, updated_at)
    SELECT 1, COALESCE(MAX(seq), 0), 0 FROM audit_events;

-- One message to one webhook endpoint or one e-mail recipient. payload is what is sent
-- (the webhook's JSON body, or the e-mail's recipient, subject and text). dedupe_key
-- ("<seq>:<channel>:<endpoint or user>") makes a second enqueue of the same event fail
-- even if the cursor check were bypassed. A claim sets lease_until; a claim whose lease ran
-- out (its instance crashed) is claimed again.
CREATE TABLE notification_deliveries (
    id              TEXT PRIMARY KEY,
    event_seq       BIGINT,
    event_type      TEXT NOT NULL,
    channel         TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
    endpoint_id     TEXT REFERENCES notification_endpoints (id) ON DELETE CASCADE,
    recipient       TEXT,
    dedupe_key      TEXT UNIQUE,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'retrying', 'delivered', 'dead')),
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (status, next_attempt_at);
CREATE INDEX notification_deliveries_endpoint ON notification_deliveries (endpoint_id, created_at);
CREATE INDEX notification_deliveries_created ON notification_deliveries (created_at);

-- Every attempt: when, how long, and what came back (an HTTP status and a short snippet,
-- an SMTP reply, or an error class). Never a secret, never a request body.
CREATE TABLE notification_attempts (
    delivery_id TEXT NOT NULL REFERENCES notification_deliveries (id) ON DELETE CASCADE,
    attempt     BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    ok          BOOLEAN NOT NULL,
    status_code BIGINT,
    detail      TEXT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
