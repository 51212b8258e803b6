-- Conversation threads: a follow-up question is read in the context of the thread's earlier ones.
-- Questions are stored after personal details were removed.
CREATE TABLE threads (
    id TEXT PRIMARY KEY,
    audience TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE thread_turns (
    thread_id TEXT NOT NULL REFERENCES threads(id),
    turn INTEGER NOT NULL,
    question TEXT NOT NULL,
    retrieval_query TEXT NOT NULL,
    focus TEXT NOT NULL DEFAULT '',  -- the terms the turn was about, carried into follow-ups
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, turn)
);
