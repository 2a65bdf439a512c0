-- Scale: every listing is a keyset page over an index that matches its
-- order; leases record what issuance created and when they were revoked;
-- revoked leases are purged after their retention. The same tables and
-- columns as migrations/sqlite/0008 (see its notes).

-- Names compare byte by byte, as in SQLite, whatever the database's default
-- collation: listings then come out in the same order on both stores, and a
-- prefix is one index range ('/prod/' .. '/prod0'), which a linguistic
-- collation (that ignores punctuation) would not give.
ALTER TABLE protection_keys ALTER COLUMN name TYPE TEXT COLLATE "C";
ALTER TABLE targets ALTER COLUMN protection_key TYPE TEXT COLLATE "C";
ALTER TABLE producers ALTER COLUMN protection_key TYPE TEXT COLLATE "C";
ALTER TABLE producers ALTER COLUMN name TYPE TEXT COLLATE "C";
ALTER TABLE targets ALTER COLUMN name TYPE TEXT COLLATE "C";
ALTER TABLE api_keys ALTER COLUMN name TYPE TEXT COLLATE "C";
ALTER TABLE roles ALTER COLUMN name TYPE TEXT COLLATE "C";
ALTER TABLE leases ALTER COLUMN id TYPE TEXT COLLATE "C";

-- Virtual folders: each item's parent folder, and every folder holding an
-- item somewhere below it with how many of each kind.
ALTER TABLE producers ADD COLUMN parent TEXT COLLATE "C" NOT NULL DEFAULT '/';
ALTER TABLE protection_keys ADD COLUMN parent TEXT COLLATE "C" NOT NULL DEFAULT '/';
UPDATE producers SET parent = COALESCE(NULLIF(regexp_replace(name, '/[^/]*$', ''), ''), '/');
UPDATE protection_keys SET parent = COALESCE(NULLIF(regexp_replace(name, '/[^/]*$', ''), ''), '/');
CREATE INDEX producers_in_folder ON producers(parent, name);
CREATE INDEX protection_keys_in_folder ON protection_keys(parent, name);

CREATE TABLE folders (
    path       TEXT COLLATE "C" PRIMARY KEY,
    parent     TEXT COLLATE "C" NOT NULL,
    producers  BIGINT NOT NULL DEFAULT 0,
    keys       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX folders_in_folder ON folders(parent, path);

WITH RECURSIVE up(folder, producers, keys) AS (
    SELECT parent, 1, 0 FROM producers WHERE parent <> '/'
    UNION ALL
    SELECT parent, 0, 1 FROM protection_keys WHERE parent <> '/'
    UNION ALL
    SELECT COALESCE(NULLIF(regexp_replace(folder, '/[^/]*$', ''), ''), '/'), producers, keys
    FROM up WHERE regexp_replace(folder, '/[^/]*$', '') <> ''
)
INSERT INTO folders (path, parent, producers, keys)
SELECT folder, COALESCE(NULLIF(regexp_replace(folder, '/[^/]*$', ''), ''), '/'),
    SUM(producers), SUM(keys)
FROM up GROUP BY folder;

-- A target's dynamic secrets by name.
DROP INDEX producers_target;
CREATE INDEX producers_of_target ON producers(target_id, name);

-- The orphan sweep's distinct connections.
ALTER TABLE producers ADD COLUMN iam_path TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE producers ADD COLUMN inline_connection_key TEXT COLLATE "C";
UPDATE producers SET iam_path = COALESCE(settings_json::json ->> 'iam_path', '');
UPDATE producers SET inline_connection_key = inline_access_key_id || ' ' ||
    COALESCE(inline_region, '') || ' ' || COALESCE(inline_iam_endpoint, '') || ' ' ||
    COALESCE(inline_sts_endpoint, '')
WHERE target_id IS NULL AND inline_access_key_id IS NOT NULL;
CREATE INDEX producers_target_paths ON producers(target_id, iam_path)
    WHERE target_id IS NOT NULL;
CREATE INDEX producers_inline_connections ON producers(inline_connection_key, iam_path)
    WHERE inline_connection_key IS NOT NULL;

-- What issuance created, when the lease was revoked, and since when a
-- revoked lease is retained.
ALTER TABLE leases ADD COLUMN created_json TEXT;
ALTER TABLE leases ADD COLUMN revoked_at BIGINT;
ALTER TABLE leases ADD COLUMN retained_since BIGINT;
UPDATE leases SET retained_since = expires_at WHERE state = 'revoked';
CREATE INDEX leases_retention ON leases(retained_since) WHERE retained_since IS NOT NULL;

DROP INDEX leases_producer;
CREATE INDEX leases_of_producer ON leases(producer_id, created_at DESC, id DESC);
CREATE INDEX leases_live_of_producer ON leases(producer_id, created_at DESC, id DESC)
    WHERE state <> 'revoked';
