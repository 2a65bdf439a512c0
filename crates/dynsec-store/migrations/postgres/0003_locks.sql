-- Short exclusive locks over work outside the store (a role's
-- read-modify-written revoked-sessions policy); see migrations/sqlite/0009.
CREATE TABLE locks (
    name        TEXT COLLATE "C" PRIMARY KEY,
    holder      TEXT NOT NULL,
    held_until  BIGINT NOT NULL
);
