"""The naive baseline answer every answer measure is reported beside, in the same run.

bm25s (the independent peer of ``eval/methods.py``) over the same library's active passages
(document title + passage text); the answer is the first ``SENTENCES`` sentences of the top
``PASSAGES`` passages in rank order, and its bottom line is the first of them. It is shaped
like ``medora.answer/1`` JSON, so every scorer reads it exactly as it reads Medora's answers.
It never gives a verdict and abstains only when no passage shares a word with the question.
"""

from __future__ import annotations

import json

from medora.eval.methods import Bm25sPeer
from medora.library.store import LibraryStore

PASSAGES = 3
SENTENCES = 8
DESCRIPTION = f"bm25s over the library's passages, first {SENTENCES} sentences of the top {PASSAGES}"


class NaiveBaseline:
    """Index the library once; ``answer(question)`` then takes a few milliseconds."""

    def __init__(self, store: LibraryStore):
        from medora.publish.database import transaction

        with transaction(store, write=False) as db:
            rows = db.execute(
                "SELECT p.id, d.title, p.text, p.sentences FROM passages p JOIN documents d ON d.id = p.document_id "
                "WHERE d.status = 'active' ORDER BY p.id").fetchall()
        self.sentences: dict[str, list[str]] = {}
        ids, texts = [], []
        for pid, title, text, spans in rows:
            spans = json.loads(spans) if isinstance(spans, str) else spans
            ids.append(str(pid))
            texts.append(f"{title or ''} {text}")
            self.sentences[str(pid)] = [text[a:b] for a, b in spans]
        self.passages = len(ids)
        self.peer = Bm25sPeer.over(ids, texts) if ids else None

    def answer(self, question: str) -> dict:
        """A ``medora.answer/1``-shaped dict: bottom line = first sentence, one section with the rest."""
        hits = self.peer.search(question, k=PASSAGES) if self.peer else []
        sentences = [s for pid, _ in hits for s in self.sentences[pid]][:SENTENCES]
        statement = lambda text: {"text": text, "citations": [], "kind": "sentence"}  # noqa: E731
        return {
            "schema": "medora.answer/1", "question": question, "status": "answered" if sentences else
            "insufficient_evidence", "verdict": None, "bottom_line": [statement(s) for s in sentences[:1]],
            "sections": [{"key": "passages", "heading": "Top passages",
                          "statements": [statement(s) for s in sentences[1:]]}] if sentences else [],
            "passages": [int(pid) for pid, _ in hits],
        }
