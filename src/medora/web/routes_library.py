"""The library pages: its sources (licence, attribution, counts, last ingested), a passage search,
and each document with every passage, so a reader can check what an answer quotes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from medora.api.context import server_of
from medora.publish.errors import NotFound
from medora.web.pages import page
from medora.web.session import visitor

router = APIRouter(include_in_schema=False)
SEARCH_RESULTS = 10


@router.get("/library", response_class=HTMLResponse)
def library(request: Request, q: Annotated[str, Query(max_length=500)] = "") -> HTMLResponse:
    store = server_of(request).libraries.local().store
    query = " ".join(q.split())
    hits = server_of(request).libraries.local().retriever.search(query, k=SEARCH_RESULTS).hits if query else []
    return page(request, visitor(request), "library.html", title="The library", sources=store.sources(),
                stats=store.stats(), query=query, hits=hits)


@router.get("/library/documents/{doc_id}", response_class=HTMLResponse)
def document(request: Request, doc_id: Annotated[int, Path(ge=1, le=2**53)]) -> HTMLResponse:
    store = server_of(request).libraries.local().store
    found = store.documents([doc_id]).get(doc_id)
    if found is None:
        raise NotFound(f"There is no document {doc_id} in this library.")
    return page(request, visitor(request), "document.html", title=found.title, document=found,
                passages=store.document_passages(doc_id))
