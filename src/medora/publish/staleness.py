"""Which articles a change to library documents makes stale, and how to say why.

An article is stale when its current version cites a document that has since changed (its
version moved past the one recorded when the article version was made) or been retired.
``service.mark_stale_for_documents`` sends such articles back to review.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from medora.publish.database import Db

MAX_TITLE_CHARS = 80


@dataclass(frozen=True)
class SourceChange:
    document_id: int
    title: str
    cited_version: int
    current_version: int
    retired: bool

    def describe(self) -> str:
        title = self.title if len(self.title) <= MAX_TITLE_CHARS else self.title[: MAX_TITLE_CHARS - 1] + "…"
        if self.retired:
            return f"source '{title}' retired"
        return f"source '{title}' changed (version {self.cited_version} → {self.current_version})"

    def as_dict(self) -> dict[str, object]:
        return {"document_id": self.document_id, "cited_version": self.cited_version,
                "current_version": self.current_version, "retired": self.retired}


def source_changes(db: Db, doc_ids: list[int]) -> dict[str, list[SourceChange]]:
    """{article slug: changes among ``doc_ids`` to the documents its current version cites}."""
    ids = sorted(set(doc_ids))
    out: dict[str, list[SourceChange]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = db.execute(
            "SELECT a.slug, d.id, d.title, s.document_version, d.version, d.status FROM articles a"
            " JOIN article_sources s ON s.article_id = a.id AND s.version = a.current_version"
            f" JOIN documents d ON d.id = s.document_id WHERE d.id IN ({','.join('?' * len(chunk))})"
            " ORDER BY a.id, d.id",
            chunk,
        )
        for slug, doc_id, title, cited, current, status in rows:
            if status == "retired" or current != cited:
                out[slug].append(SourceChange(doc_id, title, cited, current, status == "retired"))
    return dict(out)
