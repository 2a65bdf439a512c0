-- Protection keys ("DFC keys"): named keys that wrap the data keys of the
-- targets and dynamic secrets selecting them, instead of the master key.
-- sealed_fragments holds the key's store fragments (split_level of them, 32
-- bytes each) sealed under the master key, `protection-key/<uid>` as associated
-- data. The key is the XOR of those fragments and, when customer_fragment_id is
-- set, of the customer fragment only the gateway's configuration holds: the
-- database alone then cannot produce the key. key_id is the key's fingerprint
-- (also written in every ciphertext it wraps), which tells a wrong customer
-- fragment from the right one.
CREATE TABLE protection_keys (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    uid                  TEXT NOT NULL UNIQUE,
    name                 TEXT NOT NULL UNIQUE,
    alg                  TEXT NOT NULL,
    split_level          INTEGER NOT NULL,
    customer_fragment_id TEXT,
    key_id               TEXT NOT NULL,
    sealed_fragments     BLOB NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    delete_protection    INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    modified_at          INTEGER NOT NULL
);

-- The engine refuses to delete a key in use; this closes the gap between its
-- check and the delete.
CREATE TRIGGER protection_keys_in_use BEFORE DELETE ON protection_keys
WHEN EXISTS (SELECT 1 FROM targets WHERE protection_key = OLD.name)
  OR EXISTS (SELECT 1 FROM producers
             WHERE json_extract(settings_json, '$.protection_key') = OLD.name)
BEGIN
    SELECT RAISE(ABORT, 'protection key is in use');
END;

-- A known value sealed under the master key, re-wrapped by every rotation: a
-- gateway started with a key that does not open it refuses to run, rather than
-- failing on every secret (or sealing new ones under a key nothing else uses).
CREATE TABLE master_key_check (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    sealed  BLOB NOT NULL
);
