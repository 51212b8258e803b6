-- Publishing and review: user accounts and API tokens, articles with versions, audience
-- variants and the library documents they cite, review comments, and the audit log.
-- The audit log's append-only triggers are created by medora.publish.audit.install_guards
-- (a trigger body holds a semicolon, and migration files are split at every semicolon).
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('reader', 'reviewer', 'editor', 'admin')),
    password_hash TEXT,                  -- argon2id, NULL for a token-only account
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,     -- sha256 of the secret, which is never stored
    prefix TEXT NOT NULL,                -- first characters of the secret, to recognise it in lists
    scopes TEXT NOT NULL,                -- JSON list
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE articles (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    question TEXT NOT NULL,
    question_key TEXT NOT NULL UNIQUE,   -- the question without case, spacing or final punctuation
    title TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'under_review', 'changes_requested', 'approved',
                                         'rejected', 'retired')),
    state_reason TEXT,                   -- why it is in this state (changes requested, rejected, reopened...)
    revision INTEGER NOT NULL,           -- +1 on every write: the optimistic-concurrency token
    current_version INTEGER NOT NULL,
    approved_version INTEGER,            -- the last approved version, shown to readers
    claimed_by INTEGER REFERENCES users(id),
    approved_by INTEGER REFERENCES users(id),
    approved_at TEXT,
    created_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX articles_state ON articles(state);

CREATE TABLE article_versions (
    article_id INTEGER NOT NULL REFERENCES articles(id),
    version INTEGER NOT NULL,
    audience TEXT NOT NULL,              -- audience of the answer the version was made from
    created_at TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id),
    PRIMARY KEY (article_id, version)
);

-- One answer per audience of a version; all share the article's review state.
CREATE TABLE article_variants (
    article_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    audience TEXT NOT NULL,
    answer TEXT NOT NULL,                -- JSON of medora.publish.content.ArticleAnswer
    created_at TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id),
    PRIMARY KEY (article_id, version, audience),
    FOREIGN KEY (article_id, version) REFERENCES article_versions(article_id, version)
);

-- The library documents a version cites, with the document version current when they were cited.
CREATE TABLE article_sources (
    article_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    document_id INTEGER NOT NULL REFERENCES documents(id),
    document_version INTEGER NOT NULL,
    PRIMARY KEY (article_id, version, document_id),
    FOREIGN KEY (article_id, version) REFERENCES article_versions(article_id, version)
);
CREATE INDEX article_sources_document ON article_sources(document_id);

CREATE TABLE article_comments (
    id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id),
    version INTEGER NOT NULL,
    audience TEXT NOT NULL,
    statement_id TEXT,                   -- NULL: on the whole version
    author_id INTEGER REFERENCES users(id),
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX article_comments_article ON article_comments(article_id, id);

-- Append-only: every state change, edit and account change.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor_id INTEGER,                    -- users.id, NULL for the system and anonymous actors
    actor TEXT NOT NULL,                 -- username, 'system' or 'anonymous'
    actor_role TEXT NOT NULL,
    action TEXT NOT NULL,
    article_id INTEGER,
    version INTEGER,
    from_state TEXT,
    to_state TEXT,
    detail TEXT NOT NULL DEFAULT '{}',   -- JSON
    client TEXT                          -- client address, when the request came over the network
);
CREATE INDEX audit_log_article ON audit_log(article_id, id);
