-- Counters that move whenever searchable passages or vectors change. Caches kept outside the
-- database (the dense matrix, embedding coverage) compare them on every question, so reading
-- them must cost O(1), not a count over a million rows. The store's write methods bump them.
CREATE TABLE library_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    passages INTEGER NOT NULL,
    embeddings INTEGER NOT NULL
);
INSERT INTO library_changes(id, passages, embeddings)
SELECT 1, (SELECT COALESCE(MAX(id), 0) + COUNT(*) FROM passages), (SELECT COUNT(*) FROM embeddings);
