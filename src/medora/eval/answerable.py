"""Which quote questions can the library answer at all? Computed from the library itself.

A question is answerable when some sentence somewhere in the library quotes one of its gold
sentences (``eval/quotes.py``: token F1 >= 0.6). Checking every sentence of every passage
for every gold sentence would be slow, so candidates come from the library's own lexical
index: the ``CANDIDATES`` best BM25 passages for the gold sentence's words (a sentence that
repeats most of the gold sentence's words is near the top). Searching 100 instead of 20 on
MedicationQA dev (today's sources) added 6 of 345 questions, every one a coincidence between
short generic sentences ("There is no live virus in this vaccine." vs "There is currently no
vaccine.", F1 0.62, found at rank 72), so deeper search only adds noise. The result, with the best
library sentence found for each question, is cached as JSON per library content
(``library_fingerprint``) and definition, so a second run on an unchanged library is instant.

That definition admits coincidences: boilerplate such as "May be taken with or without food."
from one drug's label quotes another drug's answer. So a stricter subset is kept beside it:
questions whose gold sentence is quoted by a document about the question's focus drug (its
concepts, as the library's concept index resolves ``focus_drug``), searched exhaustively,
every sentence of up to ``FOCUS_DOCUMENTS`` such documents.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from medora.eval.quotes import F1_HIT, MIN_WORDS, best_quote, gold_sentences
from medora.library.store import LibraryStore
from medora.retrieve.lexical import hydrate
from medora.retrieve.query import content_terms, fts_match

CANDIDATES = 20  # BM25 passages searched per gold sentence
FOCUS_DOCUMENTS = 25  # documents of the focus concept searched sentence by sentence
CACHE_VERSION = 2


@dataclass(frozen=True)
class LibraryQuote:
    """The library sentence closest to a question's gold answer."""

    f1: float
    sentence: str | None = None
    gold: str | None = None
    passage_id: int | None = None
    document: str | None = None  # "source: title"
    focus_f1: float = 0.0  # the same, searched only in documents about the question's focus drug
    focus_sentence: str | None = None
    focus_document: str | None = None

    @property
    def answerable(self) -> bool:
        """Some library sentence quotes a gold sentence (found by search, or in the focus drug's documents)."""
        return self.f1 >= F1_HIT or self.focus_f1 >= F1_HIT

    @property
    def answerable_from_focus(self) -> bool:
        return self.focus_f1 >= F1_HIT


def library_fingerprint(store: LibraryStore) -> str:
    """A digest of every document's id, version, status and content: changes whenever the library does."""
    from medora.publish.database import transaction

    digest = hashlib.sha256()
    with transaction(store, write=False) as db:
        for row in db.execute("SELECT id, version, status, content_hash FROM documents ORDER BY id").fetchall():
            digest.update("\t".join(str(x) for x in row).encode() + b"\n")
    return digest.hexdigest()[:24]


def focus_documents(store: LibraryStore, focus: str | None) -> list[int]:
    """Active documents linked to the concepts named in ``focus`` (exact names; [] without a concept index)."""
    if not focus or not focus.strip():
        return []
    from medora.retrieve.concepts import resolve_concepts

    ids = sorted({d for m in resolve_concepts(store, focus, fuzzy=False) for d in m.doc_ids})
    return [d.id for d in store.documents(ids).values() if d.status == "active"][:FOCUS_DOCUMENTS]


def best_in_library(store: LibraryStore, gold: list[str], candidates: int = CANDIDATES,
                    focus_docs: list[int] = ()) -> LibraryQuote:
    """The best library sentence for any of the ``gold`` sentences, searched among BM25 candidates; and
    the best one in ``focus_docs``, searched in every sentence of those documents."""
    best: dict = {"f1": 0.0}
    for sentence in gold:
        match = fts_match(content_terms(sentence))
        if not match:
            continue
        for hit in hydrate(store, store.lexical_search(match, candidates), "bm25"):
            m = best_quote(hit.passage.sentence_texts(), [sentence])
            if m.f1 > best["f1"]:
                best = {"f1": m.f1, "sentence": m.text, "gold": sentence, "passage_id": hit.passage.id,
                        "document": f"{hit.document.source}: {hit.document.title}"}
    focus: dict = {}
    if gold and focus_docs:
        documents = store.documents(list(focus_docs))
        for doc_id in focus_docs:
            for passage in store.document_passages(doc_id):
                m = best_quote(passage.sentence_texts(), gold)
                if m.f1 > focus.get("focus_f1", 0.0):
                    doc = documents[doc_id]
                    focus = {"focus_f1": m.f1, "focus_sentence": m.text, "focus_document": f"{doc.source}: {doc.title}"}
    return LibraryQuote(**best, **focus)


def answerable(store: LibraryStore, questions: list[dict], *, cache_dir: Path | None = None,
               candidates: int = CANDIDATES, progress: Callable[[str], None] = lambda m: None
               ) -> dict[str, LibraryQuote]:
    """Question id -> best library quote, for questions with ``id`` and gold ``answer``; cached on disk."""
    cache_path = None
    cached: dict[str, dict] = {}
    if cache_dir is not None:
        key = f"{library_fingerprint(store)}-{CACHE_VERSION}-{F1_HIT}-{MIN_WORDS}-{candidates}"
        cache_path = Path(cache_dir) / f"answerable-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
        try:
            cached = json.loads(cache_path.read_text(encoding="utf-8"))["questions"]
        except (OSError, ValueError, KeyError, TypeError):
            cached = {}
    out: dict[str, LibraryQuote] = {}
    computed = 0
    for n, q in enumerate(questions, 1):
        qid, answer, focus = str(q["id"]), str(q.get("answer") or ""), str(q.get("focus_drug") or "")
        key = _sha(f"{answer}\x00{focus}")
        entry = cached.get(qid)
        if entry is not None and entry.get("answer_sha") == key:
            out[qid] = LibraryQuote(**entry["quote"])
            continue
        out[qid] = best_in_library(store, gold_sentences(answer), candidates, focus_documents(store, focus))
        cached[qid] = {"answer_sha": key, "quote": asdict(out[qid])}
        computed += 1
        if computed % 50 == 0:
            progress(f"answerable subset: searched the library for {n}/{len(questions)} gold answers")
    if cache_path is not None and computed:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"library": store.path if isinstance(store.path, str) else str(store.path),
                                   "questions": cached}, ensure_ascii=False), encoding="utf-8")
        tmp.replace(cache_path)
    progress(f"answerable subset: {sum(v.answerable for v in out.values())} of {len(out)} questions, "
             f"{sum(v.answerable_from_focus for v in out.values())} from their focus drug's documents "
             f"({computed} searched, {len(out) - computed} from cache)")
    return out


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
