"""How much of what people ask the concept index resolves, and how fast (retrieve/concepts.py).

- MedicationQA dev (345 consumer questions, each with the pharmacist's ``focus_drug``): the share whose
  focus drug resolves to a drug concept with a drug label in the library, (a) from the focus name
  itself and (b) from the question as written (the real path: brands, misspellings, plurals);
  with ``--sweep``, precision and recall of the misspelling matcher at several Jaro-Winkler cutoffs
  (a fuzzy match is right when its concept is the focus drug's).
- K-QA dev (98 patient questions): the share whose main concept (the longest name found) resolves
  to a document, and to which kind.
- Latency of ``resolve_concepts`` per question once the index is warm, and the cold index build.

    .venv/bin/python bench/concept_coverage.py --library LIBRARY.db [--sweep] [--format json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command_line, machine_info, percentile, report_header  # noqa: E402

from medora.library.open import open_store  # noqa: E402
from medora.retrieve.concepts import FUZZY_CUTOFF, ConceptIndex, concept_index, library_has  # noqa: E402

EVAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "eval"
args_verbose = False
CUTOFFS = (0.80, 0.84, 0.86, 0.88, 0.90, 0.92, 0.94, 0.96)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def labelled_concepts(store, index: ConceptIndex) -> set[int]:
    """Drug concepts with at least one active drug-label document."""
    doc_ids = sorted({d for docs in index.documents.values() for d in docs})
    docs = {}
    for i in range(0, len(doc_ids), 5000):
        docs.update(store.documents(doc_ids[i:i + 5000]))
    return {c for c, ds in index.documents.items() if index.concepts.get(c, ("",))[0] == "drug"
            and any(docs[d].doc_type == "drug label" for d in ds if d in docs)}


def medicationqa(index: ConceptIndex, labelled: set[int], cutoff: float, in_library) -> dict:
    rows = _jsonl(EVAL / "medicationqa-dev" / "questions.jsonl")
    focus_hits = question_hits = focus_known = fuzzy_right = fuzzy_all = 0
    misses: list[str] = []
    for row in rows:
        focus = str(row.get("focus_drug") or "")
        gold = {m.concept_id for m in index.resolve(focus, fuzzy=False) if m.kind == "drug"}  # exact names only
        if gold:
            focus_known += 1
        if gold & labelled:
            focus_hits += 1
        found = [m for m in index.resolve(row["question"], cutoff=cutoff, in_library=in_library) if m.kind == "drug"]
        ids = {m.concept_id for m in found}
        if gold and ids & gold & labelled:
            question_hits += 1
        elif gold & labelled:
            misses.append(f"{focus}: {row['question'][:80]}")
        for m in found:  # every misspelling match counts; right only when it is the focus drug's concept
            if m.fuzzy:
                fuzzy_all += 1
                fuzzy_right += m.concept_id in gold
                if args_verbose:
                    verdict = "right" if m.concept_id in gold else "WRONG"
                    print(f"  fuzzy {m.score:.3f} {m.matched_text} -> {m.name} ({verdict}; focus {focus})",
                          file=sys.stderr)
    n = len(rows)
    return {"questions": n, "focus_resolves_to_labelled_concept": focus_hits,
            "share_focus": round(focus_hits / n, 4), "focus_resolves_to_any_drug_concept": focus_known,
            "question_names_labelled_focus": question_hits, "share_question": round(question_hits / n, 4),
            "recall_given_focus_resolves": round(question_hits / focus_hits, 4) if focus_hits else None,
            "fuzzy_matches": fuzzy_all, "fuzzy_right": fuzzy_right,
            "fuzzy_precision": round(fuzzy_right / fuzzy_all, 4) if fuzzy_all else None,
            "missed_examples": misses[:8]}


def kqa(index: ConceptIndex) -> dict:
    rows = _jsonl(EVAL / "kqa-dev" / "questions.jsonl")
    resolved, kinds, examples = 0, Counter(), []
    for row in rows:
        found = [m for m in index.resolve(row["Question"]) if m.doc_ids]
        if found:
            main = max(found, key=lambda m: (m.span[1] - m.span[0], m.score, len(m.doc_ids)))
            resolved += 1
            kinds[main.kind] += 1
            if len(examples) < 8:
                examples.append(f"{main.matched_text} -> {main.preferred} ({main.kind}, {len(main.doc_ids)} docs)")
    return {"questions": len(rows), "main_concept_resolves_to_document": resolved,
            "share": round(resolved / len(rows), 4), "kinds": dict(kinds), "examples": examples}


def latency(store) -> dict:
    questions = [r["question"] for r in _jsonl(EVAL / "medicationqa-dev" / "questions.jsonl")]
    questions += [r["Question"] for r in _jsonl(EVAL / "kqa-dev" / "questions.jsonl")]
    started = time.perf_counter()
    ConceptIndex.from_store(store)
    build = time.perf_counter() - started
    from medora.retrieve.concepts import resolve_concepts

    resolve_concepts(store, "warm up amoxcicilin")
    times = []
    for q in questions:
        t = time.perf_counter()
        resolve_concepts(store, q)  # the public path: version check + lookup
        times.append((time.perf_counter() - t) * 1000)
    return {"index_build_s": round(build, 3), "questions": len(times), "mean_ms": round(sum(times) / len(times), 3),
            "p95_ms": round(percentile(times, 95), 3), "max_ms": round(max(times), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--library", required=True, help="A library (SQLite file or postgresql:// URL)")
    parser.add_argument("--sweep", action="store_true", help="Also report each fuzzy cutoff in CUTOFFS")
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    parser.add_argument("--verbose", action="store_true", help="Print every misspelling match (stderr)")
    args = parser.parse_args()
    global args_verbose
    args_verbose = args.verbose
    info = machine_info()
    with open_store(args.library, create=False) as store:
        stats = store.stats()
        index = concept_index(store)
        labelled = labelled_concepts(store, index)
        in_library = lambda word: library_has(store, word)  # noqa: E731
        result = {"machine": info, "library": {"documents": stats["documents"], "passages": stats["passages"],
                                               "by_type": stats["documents_by_type"], **store.concept_counts(),
                                               "labelled_drug_concepts": len(labelled)},
                  "cutoff": FUZZY_CUTOFF, "medicationqa": medicationqa(index, labelled, FUZZY_CUTOFF, in_library),
                  "kqa": kqa(index), "latency": latency(store)}
        if args.sweep:
            result["sweep"] = {str(c): {k: v for k, v in medicationqa(index, labelled, c, in_library).items()
                                        if k != "missed_examples"} for c in CUTOFFS}
    if args.format == "json":
        print(json.dumps(result, indent=2))
        return
    print(report_header("Concept index coverage", info, command_line()))
    lib, mqa, k, lat = result["library"], result["medicationqa"], result["kqa"], result["latency"]
    print(f"Library: {lib['documents']:,} documents, {lib['passages']:,} passages; {lib['concepts']:,} concepts, "
          f"{lib['names']:,} names, {lib['labelled_drug_concepts']:,} drug concepts with a label.\n")
    print(f"- MedicationQA dev: focus drug resolves to a labelled concept {mqa['focus_resolves_to_labelled_concept']}"
          f"/{mqa['questions']} ({mqa['share_focus']:.1%}); the question as written names it "
          f"{mqa['question_names_labelled_focus']}/{mqa['questions']} ({mqa['share_question']:.1%}); "
          f"misspelling matches {mqa['fuzzy_right']}/{mqa['fuzzy_matches']} right at cutoff {result['cutoff']}")
    print(f"- K-QA dev: main concept resolves to a document {k['main_concept_resolves_to_document']}/{k['questions']}"
          f" ({k['share']:.1%}); kinds {k['kinds']}")
    print(f"- Latency (warm, {lat['questions']} questions): mean {lat['mean_ms']} ms, p95 {lat['p95_ms']} ms, "
          f"max {lat['max_ms']} ms; index build {lat['index_build_s']} s")
    if "sweep" in result:
        print("\n| cutoff | fuzzy matches | right | precision | questions naming the labelled focus |")
        print("| ---: | ---: | ---: | ---: | ---: |")
        for c, r in result["sweep"].items():
            print(f"| {c} | {r['fuzzy_matches']} | {r['fuzzy_right']} | {r['fuzzy_precision']} | "
                  f"{r['question_names_labelled_focus']} |")


if __name__ == "__main__":
    main()
