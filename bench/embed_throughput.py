"""Embedding throughput of the default model against today's, measured in one run.

    .venv/bin/python bench/embed_throughput.py [--before minilm] [--after minilm-fast] [--rounds 3]

Both embedders embed the same passages through ``embed_passages`` (what ``library embed`` and
``library add`` call), in alternating rounds (before, after, before, after, ...) so that load from
other work on the machine falls on both alike; each reports its best round's passages/s (wall) and
its CPU seconds per passage (steadier under load). Two passage sets: "packed" (150-200 words cut
from the LiveQA corpus, the set of the earlier 36 passages/s figure) and "library" (the first
passages of the medquad-qa-1k corpus as chunked, title + text, the length mix a library has) and,
with ``--library PATH``, a random sample of that library's passages.
Also reports how close the two models' vectors are (cosine) — they are different models: their
vectors never mix (different model ids); retrieval quality is measured with `medora eval retrieval`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common import SHARED_DATA, command_line, machine_info, markdown_table, report_header, write_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

EVAL = SHARED_DATA / "eval"


def packed(count: int) -> list[str]:
    """``count`` passages of 150-200 words of real consumer-health prose (as bench/embedders.py)."""
    with (EVAL / "liveqa-med-dev" / "corpus.jsonl").open(encoding="utf-8") as handle:
        words = " ".join(f"{r.get('title') or ''}\n{r['text']}" for r in map(json.loads, handle)).split()
    out, start = [], 0
    for i in range(count):
        length = 150 + (i * 17) % 51
        out.append(" ".join(words[start : start + length]))
        start += length
    return out


def library_passages(count: int) -> list[str]:
    """The first ``count`` passages of the medquad-qa-1k corpus, chunked as the library chunks them."""
    from medora.library.chunking import chunk_document, embedding_input
    from medora.sources.readers.base import ParsedDocument
    from medora.sources.readers.registry import make_reader

    out: list[str] = []
    for doc in make_reader("beir").read(EVAL / "medquad-qa-1k" / "corpus.jsonl"):
        if not isinstance(doc, ParsedDocument):
            continue
        for chunk in chunk_document(doc):
            out.append(embedding_input(doc.title, chunk.section_path, chunk.text))
            if len(out) >= count:
                return out
    return out


def sampled_passages(library: Path, count: int) -> list[str]:
    """``count`` embedding inputs drawn at random (fixed seed) from an existing library's passages."""
    import random

    from medora.library.sqlite_store import SQLiteStore

    with SQLiteStore(library, create=False) as store:
        rows = store.missing_embeddings("bench:no-such-model", 10_000_000)
    return [text for _, text in random.Random(15).sample(rows, min(count, len(rows)))]


def measure(embedders: dict, texts: list[str], rounds: int) -> dict[str, dict[str, float]]:
    results = {name: {"passages_per_s": 0.0, "cpu_ms_per_passage": float("inf")} for name in embedders}
    for e in embedders.values():
        e.embed_passages(texts[:4])  # warm up
    for _ in range(rounds):
        for name, e in embedders.items():
            wall, cpu = time.perf_counter(), time.process_time()
            e.embed_passages(texts)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best = results[name]
            best["passages_per_s"] = max(best["passages_per_s"], len(texts) / wall)
            best["cpu_ms_per_passage"] = min(best["cpu_ms_per_passage"], 1000 * cpu / len(texts))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="minilm")
    parser.add_argument("--after", default="minilm-fast")
    parser.add_argument("--passages", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--library", type=Path, default=None,
                        help="Also time a random sample of this library's passages (e.g. the demo library).")
    args = parser.parse_args()
    import numpy as np

    from medora.retrieve.embeddings import get_embedder

    info = machine_info()
    embedders = {"before": get_embedder(args.before), "after": get_embedder(args.after)}
    sets = {"packed 150-200 words": packed(args.passages), "library passages": library_passages(args.passages)}
    if args.library:
        sets[f"sample of {args.library.name}"] = sampled_passages(args.library, args.passages)
    rows, data = [], {"machine": info, "models": {k: e.model_id for k, e in embedders.items()}, "sets": {}}
    for label, texts in sets.items():
        print(f"{label}: {len(texts)} passages ...", file=sys.stderr, flush=True)
        result = measure(embedders, texts, args.rounds)
        cosine = (embedders["before"].embed_passages(texts) * embedders["after"].embed_passages(texts)).sum(axis=1)
        ratio = result["after"]["passages_per_s"] / result["before"]["passages_per_s"]
        cpu_ratio = result["before"]["cpu_ms_per_passage"] / result["after"]["cpu_ms_per_passage"]
        data["sets"][label] = {**result, "ratio_wall": ratio, "ratio_cpu": cpu_ratio,
                               "cosine_mean": float(np.mean(cosine)), "cosine_min": float(np.min(cosine))}
        rows.append([label, len(texts), f"{result['before']['passages_per_s']:.1f}",
                     f"{result['after']['passages_per_s']:.1f}", f"**{ratio:.2f}x**",
                     f"{result['before']['cpu_ms_per_passage']:.0f}", f"{result['after']['cpu_ms_per_passage']:.0f}",
                     f"{cpu_ratio:.2f}x", f"{np.mean(cosine):.3f}"])
    print(report_header("Embedding throughput (`bench/embed_throughput.py`)", info, command_line()))
    print(f"- before: `{args.before}` = {embedders['before'].model_id}; after: `{args.after}` = "
          f"{embedders['after'].model_id}\n")
    print(markdown_table(["passages", "n", "before /s", "after /s", "ratio (wall)", "before CPU ms", "after CPU ms",
                          "ratio (CPU)", "cosine before~after"], rows))
    write_json("embed_throughput", data)


if __name__ == "__main__":
    main()
