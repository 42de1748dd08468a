-- Issue 19: every audit search shape and every subject's timeline fast over ten million
-- events. Searches read newest first by time (occurred_at, then seq), so each filter has an
-- index that begins with it and continues with the time: a filter and a time range are one
-- range seek on either engine, read backwards, stopping at the page's end. The other filter
-- columns a search combines with it ride along in the index, so they are checked there
-- without reading the row.

DROP INDEX audit_events_time;
DROP INDEX audit_events_actor;
DROP INDEX audit_events_actor_id;
DROP INDEX audit_events_action;
DROP INDEX audit_events_target;
CREATE INDEX audit_events_time ON audit_events (occurred_at, seq);
CREATE INDEX audit_events_actor ON audit_events (actor_name, occurred_at, seq, action, outcome);
CREATE INDEX audit_events_actor_id ON audit_events (actor_id, occurred_at, seq, action, outcome);
CREATE INDEX audit_events_action ON audit_events (action, occurred_at, seq, outcome);
CREATE INDEX audit_events_target ON audit_events (target_id, occurred_at, seq);
-- A busy actor (the system, a script) and one of its actions, without reading all it did.
CREATE INDEX audit_events_actor_action ON audit_events (actor_name, action, occurred_at, seq);
-- Failures and denials are a few in a hundred: only they are indexed by outcome, alone and
-- with the action or the actor, so a rare combination is found without reading the
-- common events around it.
CREATE INDEX audit_events_unsuccessful ON audit_events (outcome, occurred_at, seq)
    WHERE outcome <> 'success';
CREATE INDEX audit_events_unsuccessful_action ON audit_events (action, outcome, occurred_at, seq)
    WHERE outcome <> 'success';
CREATE INDEX audit_events_unsuccessful_actor ON audit_events (actor_name, outcome, occurred_at, seq)
    WHERE outcome <> 'success';

-- The subjects an event names in its details besides its target: the access request a
-- grant, its credentials and its end belong to (`grant_id`, `request_id`), the break-glass
-- request (`request_id`), the person a membership change is about (`user_id`). A subject's
-- timeline is its target index and these rows, both seeks, whatever the event's age. The
-- `request_id` of STS and cloud API events is the API call's own ID, not a subject.
-- Derived from what the hash covers, so they need no hash of their own; append-only still.
CREATE TABLE audit_mentions (
    subject TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (subject, seq)
) WITHOUT ROWID;

CREATE TRIGGER audit_events_mentions AFTER INSERT ON audit_events
WHEN instr(NEW.details, '_id"') > 0
BEGIN
    INSERT OR IGNORE INTO audit_mentions (subject, seq)
    SELECT m.subject, NEW.seq FROM (
        SELECT json_extract(NEW.details, '$.grant_id') AS subject
        UNION ALL SELECT json_extract(NEW.details, '$.user_id')
        UNION ALL SELECT json_extract(NEW.details, '$.request_id')
            WHERE NEW.action NOT LIKE 'sts.%' AND NEW.action NOT LIKE 'cloud.%'
    ) AS m
    WHERE typeof(m.subject) = 'text' AND m.subject IS NOT COALESCE(NEW.target_id, '');
END;

INSERT OR IGNORE INTO audit_mentions (subject, seq)
SELECT m.subject, m.seq FROM (
    SELECT json_extract(details, '$.grant_id') AS subject, seq, target_id
        FROM audit_events WHERE instr(details, '"grant_id"') > 0
    UNION ALL SELECT json_extract(details, '$.user_id'), seq, target_id
        FROM audit_events WHERE instr(details, '"user_id"') > 0
    UNION ALL SELECT json_extract(details, '$.request_id'), seq, target_id
        FROM audit_events WHERE instr(details, '"request_id"') > 0
            AND action NOT LIKE 'sts.%' AND action NOT LIKE 'cloud.%'
) AS m
WHERE typeof(m.subject) = 'text' AND m.subject IS NOT COALESCE(m.target_id, '');

CREATE TRIGGER audit_mentions_no_update BEFORE UPDATE ON audit_mentions
BEGIN SELECT RAISE(ABORT, 'audit_mentions is append-only'); END;
CREATE TRIGGER audit_mentions_no_delete BEFORE DELETE ON audit_mentions
BEGIN SELECT RAISE(ABORT, 'audit_mentions is append-only'); END;
