-- Conversation threads: a follow-up question is read in the context of the thread's earlier ones.
-- Questions are stored after personal details were removed.
CREATE TABLE threads (
    id text PRIMARY KEY,
    audience text NOT NULL,
    created_at text NOT NULL
);

CREATE TABLE thread_turns (
    thread_id text NOT NULL REFERENCES threads(id),
    turn integer NOT NULL,
    question text NOT NULL,
    retrieval_query text NOT NULL,
    focus text NOT NULL DEFAULT '',  -- the terms the turn was about, carried into follow-ups
    status text NOT NULL,
    created_at text NOT NULL,
    PRIMARY KEY (thread_id, turn)
);
