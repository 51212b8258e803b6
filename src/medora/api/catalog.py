"""The public list of articles: those with a published (last approved, not retired) version.

``PublishingService.published`` serves one such article to anyone; this pages through all of
them, newest approval first, and shows each exactly as ``published`` serves it (its approved
title, not a newer draft's).
"""

from __future__ import annotations

from medora.api.context import Library
from medora.api.pages import Page, PageParams
from medora.api.schemas import ArticleSummary
from medora.publish.database import transaction
from medora.publish.errors import NotFound
from medora.publish.workflow import RETIRED

_PUBLISHED = "FROM articles WHERE approved_version IS NOT NULL AND state != ?"


def published_page(library: Library, params: PageParams) -> Page[ArticleSummary]:
    with transaction(library.store, write=False) as db:
        total = db.execute(f"SELECT COUNT(*) {_PUBLISHED}", (RETIRED,)).fetchone()[0]
        slugs = [row[0] for row in db.execute(f"SELECT slug {_PUBLISHED} ORDER BY approved_at DESC, id DESC"
                                              " LIMIT ? OFFSET ?", (RETIRED, params.limit, params.offset))]
    items = []
    for slug in slugs:
        try:
            article = library.publishing.published(slug)
        except NotFound:  # retired since the list was read
            continue
        items.append(ArticleSummary(slug=slug, title=article.title, state=article.state,
                                    approved_version=article.version.version, approved_by=article.approved_by,
                                    approved_at=article.approved_at))
    return params.page(items, total)
