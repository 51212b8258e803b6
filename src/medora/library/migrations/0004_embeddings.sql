-- Dense vectors, content-addressed: keyed by passages.content_hash (sha256 of what the model
-- reads: title, headings, text) and the model id, so unchanged passages are never embedded
-- twice and vectors of different models never mix.
CREATE TABLE embeddings (
    model_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,          -- float16, L2-normalised, little-endian
    created_at TEXT NOT NULL,
    PRIMARY KEY (model_id, content_hash)
);
