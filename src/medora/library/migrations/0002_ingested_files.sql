-- File-level fast path: a file whose sha256 is unchanged since its last complete ingestion is
-- not parsed again; its documents are known through documents.origin.
ALTER TABLE documents ADD COLUMN origin TEXT;

CREATE TABLE ingested_files (
    source_id INTEGER NOT NULL REFERENCES sources(id),
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    documents INTEGER NOT NULL,
    skipped TEXT NOT NULL DEFAULT '{}',  -- JSON {reason: count} replayed when the file is skipped
    ingested_at TEXT NOT NULL,
    PRIMARY KEY (source_id, path)
);
