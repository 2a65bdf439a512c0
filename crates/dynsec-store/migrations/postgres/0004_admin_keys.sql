-- Admin-key state of each connection (a target's, a dynamic secret's inline
-- one), as JSON the engine reads (dynsec_core::AdminKeyState): the rotation
-- schedule, the last rotation, a rotation in progress (its old and new key
-- ids, never a secret), and whether the connection is the gateway host's own
-- identity. Numbered 0004 to leave 0003 to work landing in parallel.
ALTER TABLE targets ADD COLUMN admin_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE producers ADD COLUMN inline_admin_json TEXT NOT NULL DEFAULT '{}';
