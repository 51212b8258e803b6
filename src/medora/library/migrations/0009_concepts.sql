-- The concept index: drugs and conditions named by the documents' own metadata (library/concepts.py),
-- the names that point at them (normalized for lookup) and the documents about each. The store keeps
-- it in step with every document write and retirement; `medora library concepts --rebuild` remakes it.
CREATE TABLE concepts (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('drug', 'condition', 'test', 'procedure')),
    preferred TEXT NOT NULL,
    key TEXT NOT NULL,            -- normalized preferred name: concepts merge on (kind, key)
    UNIQUE (kind, key)
);

-- A name a document gives a concept (so a changed or retired document takes its names with it).
CREATE TABLE concept_names (
    concept_id INTEGER NOT NULL REFERENCES concepts(id) ON DELETE CASCADE,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    norm TEXT NOT NULL,           -- library/concepts.normalize_name(name)
    name_kind TEXT NOT NULL CHECK (name_kind IN ('preferred', 'brand', 'generic', 'substance', 'synonym')),
    PRIMARY KEY (concept_id, document_id, norm, name_kind)
);
CREATE INDEX concept_names_norm ON concept_names(norm);
CREATE INDEX concept_names_document ON concept_names(document_id);

CREATE TABLE concept_documents (
    concept_id INTEGER NOT NULL REFERENCES concepts(id) ON DELETE CASCADE,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    PRIMARY KEY (concept_id, document_id)
);
CREATE INDEX concept_documents_document ON concept_documents(document_id);

-- O(1) version of the concept index, for the resolver's in-process cache.
ALTER TABLE library_changes ADD COLUMN concepts INTEGER NOT NULL DEFAULT 0;
