-- API-key auth methods' settings, roles with path rules, and the roles'
-- associations with auth methods.
ALTER TABLE api_keys ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN access_expires INTEGER;
-- Comma-separated CIDRs the caller's address must fall in ('' = anywhere).
ALTER TABLE api_keys ADD COLUMN bound_ips TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN jwt_ttl_secs INTEGER;
ALTER TABLE api_keys ADD COLUMN delete_protection INTEGER NOT NULL DEFAULT 0;

CREATE TABLE roles (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL UNIQUE,
    description  TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    modified_at  INTEGER NOT NULL
);

CREATE TABLE role_rules (
    role_id       INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    rule_type     TEXT NOT NULL,
    path          TEXT NOT NULL,
    -- Comma-separated capabilities.
    capabilities  TEXT NOT NULL,
    PRIMARY KEY (role_id, rule_type, path)
);

CREATE TABLE role_assocs (
    id          TEXT PRIMARY KEY,
    role_id     INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    access_id   TEXT NOT NULL REFERENCES api_keys(access_id) ON DELETE CASCADE,
    UNIQUE (role_id, access_id)
);
CREATE INDEX role_assocs_access ON role_assocs(access_id);
