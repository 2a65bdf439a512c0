-- Live gateway processes. An intent whose owner stopped heartbeating belongs
-- to a dead process and is rolled back by any other gateway sharing the store.
CREATE TABLE instances (
    id            TEXT PRIMARY KEY,
    heartbeat_at  INTEGER NOT NULL
);
