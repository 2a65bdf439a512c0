-- Protection keys are referenced through real foreign keys (ON DELETE
-- RESTRICT) instead of a trigger reading a JSON field: the database itself
-- refuses to delete a key a target or dynamic secret uses. Existing values
-- are carried over.
DROP TRIGGER protection_keys_in_use;

ALTER TABLE producers ADD COLUMN protection_key TEXT
    REFERENCES protection_keys(name) ON DELETE RESTRICT;
UPDATE producers SET protection_key = json_extract(settings_json, '$.protection_key');
CREATE INDEX producers_protection_key ON producers(protection_key)
    WHERE protection_key IS NOT NULL;

-- SQLite cannot add a foreign key to an existing column: add one, copy,
-- drop the old column and take its name.
ALTER TABLE targets ADD COLUMN protection_key_ref TEXT
    REFERENCES protection_keys(name) ON DELETE RESTRICT;
UPDATE targets SET protection_key_ref = protection_key;
ALTER TABLE targets DROP COLUMN protection_key;
ALTER TABLE targets RENAME COLUMN protection_key_ref TO protection_key;
CREATE INDEX targets_protection_key ON targets(protection_key)
    WHERE protection_key IS NOT NULL;

-- Master keys each instance holds (fingerprints, current first), so a
-- rotation knows when every gateway has the new key.
ALTER TABLE instances ADD COLUMN master_keys TEXT NOT NULL DEFAULT '';

-- Duties one gateway at a time performs (the orphan sweep, a master-key
-- rotation): held until held_until unless renewed.
CREATE TABLE duties (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    held_until  INTEGER NOT NULL
);

-- Failed authentications per limiter key ('id:<access id>', 'ip:<address>'),
-- shared by every gateway on the store; purged after the window.
CREATE TABLE auth_failures (
    limiter_key TEXT NOT NULL,
    failed_at   INTEGER NOT NULL
);
CREATE INDEX auth_failures_by_key ON auth_failures(limiter_key, failed_at);
CREATE INDEX auth_failures_by_time ON auth_failures(failed_at);

-- A new master key sealed under the one it replaces, until every gateway
-- holds it (see KeyHandover).
CREATE TABLE master_key_handovers (
    key_id      TEXT PRIMARY KEY,
    sealed_key  BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
