-- Short exclusive locks over work outside the store (a role's
-- read-modify-written revoked-sessions policy): one holder per name, each
-- acquisition its own holder token (not re-entrant), free once held_until
-- has passed so a crashed holder blocks nobody for long.
CREATE TABLE locks (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    held_until  INTEGER NOT NULL
);
