-- The tenant: keys, clients, APIs, connections, actions, users and logins in progress.
-- Timestamps are milliseconds since the Unix epoch; structured records are JSON text.

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    pkcs8 BLOB NOT NULL,
    -- 'current' signs tokens; 'next' is published ahead of rotation; 'previous' still verifies.
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);

CREATE TABLE resource_servers (
    identifier TEXT PRIMARY KEY,
    body TEXT NOT NULL
);

CREATE TABLE connections (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
);

CREATE TABLE actions (
    id TEXT PRIMARY KEY,
    trigger_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE users (
    user_id TEXT PRIMARY KEY,
    email TEXT,
    email_verified INTEGER NOT NULL DEFAULT 0,
    name TEXT,
    given_name TEXT,
    family_name TEXT,
    nickname TEXT,
    picture TEXT,
    app_metadata TEXT NOT NULL DEFAULT '{}',
    user_metadata TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_login INTEGER,
    logins_count INTEGER NOT NULL DEFAULT 0,
    blocked INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX users_email ON users (email);

CREATE TABLE identities (
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    connection TEXT NOT NULL,
    provider TEXT NOT NULL,
    identity_user_id TEXT NOT NULL,
    is_social INTEGER NOT NULL,
    access_token TEXT,
    refresh_token TEXT,
    expires_at INTEGER,
    PRIMARY KEY (user_id, connection)
);

CREATE TABLE login_transactions (
    state TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE authorization_codes (
    code TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE userinfo_grants (
    token_hash TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE client_grants (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    audience TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (client_id, audience)
);

-- Tenant-wide settings, one JSON value per key.
CREATE TABLE tenant_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
