"""The library behind the answers: its sources (with licence and attribution) and single documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from medora.api import problems
from medora.api.auth import Principal, principal
from medora.api.context import server_of
from medora.api.schemas import DocumentView, LibrarySource
from medora.publish.errors import NotFound

router = APIRouter(prefix="/v1/library", tags=["library"],
                   responses=problems.responses(400, 401, 403, 404, 413, 422, 429, 500, 503))
Caller = Annotated[Principal, Depends(principal)]


@router.get("/sources", response_model=list[LibrarySource], summary="Sources in the library")
def sources(request: Request, caller: Caller) -> list[LibrarySource]:
    caller.require("read")
    return [LibrarySource(**row) for row in server_of(request).libraries.local().store.sources()]


@router.get("/documents/{doc_id}", response_model=DocumentView, summary="One document and its passages")
def document(request: Request, caller: Caller, doc_id: Annotated[int, Path(ge=1, le=2**53)]) -> DocumentView:
    """Metadata and every passage of a document, so anyone can check what an answer quotes."""
    caller.require("read")
    store = server_of(request).libraries.local().store
    found = store.documents([doc_id]).get(doc_id)
    if found is None:
        raise NotFound(f"no document {doc_id}")
    return DocumentView(document=found, passages=store.document_passages(doc_id))
