-- dynsec schema v1 (SQLite). Times are unix milliseconds (UTC).

CREATE TABLE api_keys (
    access_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    key_hash    TEXT NOT NULL,
    is_admin    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE TABLE tokens (
    token_hash  TEXT PRIMARY KEY,
    access_id   TEXT NOT NULL REFERENCES api_keys(access_id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX tokens_expiry ON tokens(expires_at);

-- Non-secret connection fields are plain columns; the secret key and session
-- token are one sealed blob (AES-256-GCM envelope, record uid as AAD).
CREATE TABLE targets (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    uid              TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL UNIQUE,
    description      TEXT NOT NULL DEFAULT '',
    access_key_id    TEXT NOT NULL,
    region           TEXT NOT NULL,
    iam_endpoint     TEXT,
    sts_endpoint     TEXT,
    sealed_secret    BLOB NOT NULL,
    protection_key   TEXT,
    delete_protection INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    modified_at      INTEGER NOT NULL
);

CREATE TABLE producers (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    uid              TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL UNIQUE,
    target_id        INTEGER REFERENCES targets(id),
    settings_json    TEXT NOT NULL,
    -- Inline connection (the seed's second form) when target_id is NULL.
    inline_access_key_id TEXT,
    inline_region        TEXT,
    inline_iam_endpoint  TEXT,
    inline_sts_endpoint  TEXT,
    inline_sealed_secret BLOB,
    delete_protection INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    modified_at      INTEGER NOT NULL
);
CREATE INDEX producers_target ON producers(target_id);

-- One row per issued credential, written as 'pending' (the durable intent)
-- before anything exists in AWS. Never holds the issued secret.
CREATE TABLE leases (
    id               TEXT PRIMARY KEY,
    producer_id      INTEGER NOT NULL,
    producer_name    TEXT NOT NULL,
    mode             TEXT NOT NULL,
    principal        TEXT NOT NULL,
    access_key_id    TEXT,
    role_arn         TEXT,
    state            TEXT NOT NULL,
    owner            TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    next_attempt_at  INTEGER,
    -- When the reaper must next look at this lease: expiry while active, the
    -- next retry while revoking/failed, NULL when pending or revoked.
    due_at           INTEGER
);
CREATE INDEX leases_producer ON leases(producer_id, state);
-- The reaper's index: live leases by the time they next need attention.
CREATE INDEX leases_due ON leases(due_at) WHERE due_at IS NOT NULL;
CREATE INDEX leases_pending ON leases(owner) WHERE state = 'pending';

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
