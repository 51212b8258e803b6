"""BEIR-layout evaluation sets: corpus.jsonl, queries.jsonl, qrels/*.tsv (graded)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from medora.errors import UsageError


@dataclass
class BeirDataset:
    name: str
    path: Path
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    @property
    def corpus(self) -> Path:
        return self.path / "corpus.jsonl"

    def corpus_hash(self) -> str:
        h = hashlib.sha256()
        with self.corpus.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()


def load_dataset(path: Path, split: str = "test") -> BeirDataset:
    """Load queries and qrels of a BEIR folder; only queries with judgments are kept."""
    path = Path(path)
    for needed in ("corpus.jsonl", "queries.jsonl"):
        if not (path / needed).is_file():
            raise UsageError(f"{path} is not a BEIR dataset folder: {needed} is missing")
    qrels_file = path / "qrels" / f"{split}.tsv"
    if not qrels_file.is_file():
        raise UsageError(f"{path}: qrels/{split}.tsv is missing")
    qrels: dict[str, dict[str, int]] = {}
    with qrels_file.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            parts = line.rstrip("\n").split("\t")
            if n == 1 and parts[0] == "query-id":
                continue
            if len(parts) != 3:
                raise UsageError(f"{qrels_file}:{n}: expected 'query-id<TAB>corpus-id<TAB>score'")
            try:
                qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
            except ValueError:
                raise UsageError(f"{qrels_file}:{n}: score {parts[2]!r} is not an integer") from None
    queries: dict[str, str] = {}
    with (path / "queries.jsonl").open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path / 'queries.jsonl'}:{n}: not JSON ({exc.msg})") from None
            if str(row.get("_id")) in qrels:
                queries[str(row["_id"])] = str(row.get("text", ""))
    return BeirDataset(path.name, path, queries, qrels)
