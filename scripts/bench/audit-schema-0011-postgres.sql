-- The audit schema as migration 0011 left it, for timing the code before migration 0012 on
-- the same events (scripts/bench-audit.sh with OLD_BIN).
DROP TABLE audit_mentions;
DROP TRIGGER audit_events_mentions ON audit_events;
DROP FUNCTION gatehouse_audit_mentions();
DROP INDEX audit_events_time;
DROP INDEX audit_events_actor;
DROP INDEX audit_events_actor_id;
DROP INDEX audit_events_action;
DROP INDEX audit_events_target;
DROP INDEX audit_events_unsuccessful;
DROP INDEX audit_events_unsuccessful_action;
DROP INDEX audit_events_unsuccessful_actor;
DROP INDEX audit_events_actor_action;
CREATE INDEX audit_events_time ON audit_events (occurred_at);
CREATE INDEX audit_events_actor ON audit_events (actor_name, seq);
CREATE INDEX audit_events_actor_id ON audit_events (actor_id, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_target ON audit_events (target_id, seq);
DELETE FROM _sqlx_migrations WHERE version = 12;
ANALYZE;
