"""Example questions for the ask page, drawn from what the library actually holds.

Two kinds, taken in turn so the examples cover different sources: section headings that are
questions (patient leaflets and drug-label medication guides are written that way: "What are the
possible side effects of HUMIRA?") and screening guidelines ("Who should be screened for …?").
They are computed once per library content (``data_version``), so they stay fast.
"""

from __future__ import annotations

import json
import re
import threading
from itertools import chain, zip_longest

from medora.publish.database import Store, transaction

COUNT = 4
_USEFUL = ("definition", "causes", "symptoms", "diagnosis", "treatment", "prevention", "adverse reactions",
           "dosage", "interactions", "warnings", "indications")
_SCREENING = re.compile(r"^(?P<topic>[^:]{4,60}): Screening\b")
_cache: dict[str, tuple[tuple[int, int], list[str]]] = {}  # library path -> (its data_version, examples)
_guard = threading.Lock()


def _question_headings(store: Store) -> list[str]:
    marks = ",".join("?" * len(_USEFUL))
    with transaction(store, write=False) as db:  # section_path is JSON text (SQLite) or jsonb (PostgreSQL)
        rows = db.execute(
            "SELECT d.id, CAST(p.section_path AS TEXT) FROM passages p JOIN documents d ON d.id = p.document_id"
            f" WHERE d.status = 'active' AND p.section_type IN ({marks})"
            " AND CAST(p.section_path AS TEXT) LIKE '%?\"]' ORDER BY d.id, p.ordinal LIMIT 2000", _USEFUL).fetchall()
    seen: set[int] = set()
    out = []
    for doc_id, path in rows:
        heading = " ".join(json.loads(path)[-1].replace(" ?", "?").split())
        if doc_id not in seen and 20 <= len(heading) <= 90:
            seen.add(doc_id)
            out.append(heading)
    return out


def _sentence_case(topic: str) -> str:
    """'Bladder Cancer in Adults' -> 'bladder cancer in adults'; acronyms and 'Rh(D)' stay as they are."""
    return " ".join(w.lower() if w[1:].islower() else w for w in topic.split())


def _screening_topics(store: Store) -> list[str]:
    with transaction(store, write=False) as db:
        rows = db.execute("SELECT title FROM documents WHERE status = 'active' AND doc_type = 'guideline'"
                          " ORDER BY id LIMIT 500").fetchall()
    return [f"Who should be screened for {_sentence_case(m['topic'])}?" for (title,) in rows
            if (m := _SCREENING.match(title))]


def examples(store: Store) -> list[str]:
    """Up to ``COUNT`` questions the library can answer, alternating between the two kinds."""
    version = store.data_version()
    with _guard:
        cached = _cache.get(store.path)
    if cached and cached[0] == version:
        return cached[1]
    mixed = [q for q in chain.from_iterable(zip_longest(_question_headings(store), _screening_topics(store))) if q]
    found = list(dict.fromkeys(mixed))[:COUNT]
    with _guard:
        _cache[store.path] = (version, found)
    return found
