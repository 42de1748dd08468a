-- What `gatehouse serve --demo` made (users, groups, accounts, permission sets, policies, the
-- vault entry, the notification endpoint), so the demo company can be removed in one action.
CREATE TABLE demo_objects (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    -- The order they were made in.
    made BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
