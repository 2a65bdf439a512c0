-- Scale: every listing is a keyset page over an index that matches its
-- order; leases record what issuance created and when they were revoked;
-- revoked leases are purged after their retention.

-- Virtual folders. An item's parent folder is a column ('/' at the top), so
-- a folder's own items are one index range; `folders` holds every folder
-- that has an item somewhere below it, with how many of each kind, so a
-- folder's immediate sub-folders are one index range too. The store keeps
-- both in step with every create, rename and delete, in the same
-- transaction. Existing rows are carried over below.
ALTER TABLE producers ADD COLUMN parent TEXT NOT NULL DEFAULT '/';
ALTER TABLE protection_keys ADD COLUMN parent TEXT NOT NULL DEFAULT '/';
-- The parent of '/a/b/c' is '/a/b': rtrim(x, <x without its slashes>) keeps
-- everything up to the last '/', which is then dropped (unless it is the root).
UPDATE producers SET parent = CASE
    WHEN rtrim(name, replace(name, '/', '')) IN ('', '/') THEN '/'
    ELSE substr(rtrim(name, replace(name, '/', '')), 1,
                length(rtrim(name, replace(name, '/', ''))) - 1)
END;
UPDATE protection_keys SET parent = CASE
    WHEN rtrim(name, replace(name, '/', '')) IN ('', '/') THEN '/'
    ELSE substr(rtrim(name, replace(name, '/', '')), 1,
                length(rtrim(name, replace(name, '/', ''))) - 1)
END;
CREATE INDEX producers_in_folder ON producers(parent, name);
CREATE INDEX protection_keys_in_folder ON protection_keys(parent, name);

CREATE TABLE folders (
    path       TEXT PRIMARY KEY,
    parent     TEXT NOT NULL,
    -- Dynamic secrets and protection keys anywhere below this folder.
    producers  INTEGER NOT NULL DEFAULT 0,
    keys       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX folders_in_folder ON folders(parent, path);

WITH RECURSIVE up(folder, producers, keys) AS (
    SELECT parent, 1, 0 FROM producers WHERE parent <> '/'
    UNION ALL
    SELECT parent, 0, 1 FROM protection_keys WHERE parent <> '/'
    UNION ALL
    SELECT CASE
        WHEN rtrim(folder, replace(folder, '/', '')) IN ('', '/') THEN '/'
        ELSE substr(rtrim(folder, replace(folder, '/', '')), 1,
                    length(rtrim(folder, replace(folder, '/', ''))) - 1)
    END, producers, keys
    FROM up WHERE rtrim(folder, replace(folder, '/', '')) NOT IN ('', '/')
)
INSERT INTO folders (path, parent, producers, keys)
SELECT folder,
    CASE
        WHEN rtrim(folder, replace(folder, '/', '')) IN ('', '/') THEN '/'
        ELSE substr(rtrim(folder, replace(folder, '/', '')), 1,
                    length(rtrim(folder, replace(folder, '/', ''))) - 1)
    END,
    SUM(producers), SUM(keys)
FROM up GROUP BY folder;

-- Listings of a target's dynamic secrets, by name.
DROP INDEX producers_target;
CREATE INDEX producers_of_target ON producers(target_id, name);

-- The orphan sweep's distinct connections: each target, and each distinct
-- inline connection ('<key id> <region> <iam endpoint> <sts endpoint>'),
-- with the IAM paths used through it (settings' iam_path, '' = the default).
ALTER TABLE producers ADD COLUMN iam_path TEXT NOT NULL DEFAULT '';
ALTER TABLE producers ADD COLUMN inline_connection_key TEXT;
UPDATE producers SET iam_path = COALESCE(json_extract(settings_json, '$.iam_path'), '');
UPDATE producers SET inline_connection_key = inline_access_key_id || ' ' ||
    COALESCE(inline_region, '') || ' ' || COALESCE(inline_iam_endpoint, '') || ' ' ||
    COALESCE(inline_sts_endpoint, '')
WHERE target_id IS NULL AND inline_access_key_id IS NOT NULL;
CREATE INDEX producers_target_paths ON producers(target_id, iam_path)
    WHERE target_id IS NOT NULL;
CREATE INDEX producers_inline_connections ON producers(inline_connection_key, iam_path)
    WHERE inline_connection_key IS NOT NULL;

-- What issuance created (JSON, see rows.rs; NULL: unknown, so revocation
-- discovers what the user has), when the lease was revoked, and since when
-- a revoked lease is retained (dynsec_core::Lease::retained_since; NULL
-- while live). Leases revoked before this are retained from their expiry.
ALTER TABLE leases ADD COLUMN created_json TEXT;
ALTER TABLE leases ADD COLUMN revoked_at INTEGER;
ALTER TABLE leases ADD COLUMN retained_since INTEGER;
UPDATE leases SET retained_since = expires_at WHERE state = 'revoked';
CREATE INDEX leases_retention ON leases(retained_since) WHERE retained_since IS NOT NULL;

-- A dynamic secret's leases newest first: all of them, and the live ones
-- alone (so paging live leases never walks the retained revoked ones).
DROP INDEX leases_producer;
CREATE INDEX leases_of_producer ON leases(producer_id, created_at DESC, id DESC);
CREATE INDEX leases_live_of_producer ON leases(producer_id, created_at DESC, id DESC)
    WHERE state <> 'revoked';
