-- The evidence library: sources, documents, passages and the FTS5 index over passages.
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    publisher TEXT,
    license TEXT,
    url TEXT,
    version TEXT,
    attribution TEXT,
    ingested_at TEXT
);

CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    external_id TEXT NOT NULL,
    title TEXT NOT NULL,
    url TEXT,
    publisher TEXT,
    year INTEGER,
    doc_type TEXT NOT NULL,
    grade TEXT,
    license TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    content_hash TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (source_id, external_id)
);

CREATE TABLE passages (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    section_path TEXT NOT NULL,   -- JSON list of headings
    section_type TEXT,
    text TEXT NOT NULL,
    sentences TEXT NOT NULL,      -- JSON list of [start, end] offsets into text
    content_hash TEXT NOT NULL,   -- sha256 of the embedding input (title, headings, text)
    UNIQUE (document_id, ordinal)
);
CREATE INDEX passages_hash ON passages(content_hash);

-- rowid = passages.id. Title and section headings are indexed as their own columns so that
-- ranking can weight them.
CREATE VIRTUAL TABLE passages_fts USING fts5(
    title, section, body,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
