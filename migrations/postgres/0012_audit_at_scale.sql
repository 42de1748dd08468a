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
-- Who, what and how are far from independent (the system never signs in; its cloud calls
-- rarely fail): without their joint frequencies the planner took a busy actor's action for
-- a few thousand rows and walked 350,000 to find a failure that never happened.
CREATE STATISTICS audit_events_who_what_how (mcv, dependencies)
    ON actor_name, action, outcome FROM audit_events;

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
);

CREATE FUNCTION gatehouse_audit_mentions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d jsonb;
BEGIN
    IF position('_id"' IN NEW.details) = 0 THEN
        RETURN NULL;
    END IF;
    d := NEW.details::jsonb;
    INSERT INTO audit_mentions (subject, seq)
    SELECT m.subject, NEW.seq FROM (VALUES
        (CASE WHEN jsonb_typeof(d -> 'grant_id') = 'string' THEN d ->> 'grant_id' END),
        (CASE WHEN jsonb_typeof(d -> 'user_id') = 'string' THEN d ->> 'user_id' END),
        (CASE WHEN jsonb_typeof(d -> 'request_id') = 'string'
                   AND NEW.action NOT LIKE 'sts.%' AND NEW.action NOT LIKE 'cloud.%'
              THEN d ->> 'request_id' END)
    ) AS m(subject)
    WHERE m.subject IS NOT NULL AND m.subject IS DISTINCT FROM COALESCE(NEW.target_id, '')
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_events_mentions AFTER INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION gatehouse_audit_mentions();

INSERT INTO audit_mentions (subject, seq)
SELECT DISTINCT m.subject, m.seq FROM (
    SELECT details::jsonb ->> 'grant_id' AS subject, seq, target_id
        FROM audit_events WHERE position('"grant_id"' IN details) > 0
            AND jsonb_typeof(details::jsonb -> 'grant_id') = 'string'
    UNION ALL SELECT details::jsonb ->> 'user_id', seq, target_id
        FROM audit_events WHERE position('"user_id"' IN details) > 0
            AND jsonb_typeof(details::jsonb -> 'user_id') = 'string'
    UNION ALL SELECT details::jsonb ->> 'request_id', seq, target_id
        FROM audit_events WHERE position('"request_id"' IN details) > 0
            AND jsonb_typeof(details::jsonb -> 'request_id') = 'string'
            AND action NOT LIKE 'sts.%' AND action NOT LIKE 'cloud.%'
) AS m
WHERE m.subject IS DISTINCT FROM COALESCE(m.target_id, '')
ON CONFLICT DO NOTHING;

CREATE TRIGGER audit_mentions_append_only BEFORE UPDATE OR DELETE ON audit_mentions
    FOR EACH ROW EXECUTE FUNCTION gatehouse_append_only();
CREATE TRIGGER audit_mentions_no_truncate BEFORE TRUNCATE ON audit_mentions
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_append_only();
