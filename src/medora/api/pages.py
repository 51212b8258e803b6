"""Pagination: ``limit``/``offset`` query parameters in, a ``Page`` with the total out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

T = TypeVar("T")
MAX_LIMIT = 100
MAX_OFFSET = 1_000_000_000


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="Items in the whole collection")
    limit: int
    offset: int
    next_offset: int | None = Field(None, description="Offset of the next page; null on the last page")


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int

    def page(self, items: Sequence[T], total: int) -> Page[T]:
        """A page of already-sliced ``items`` out of ``total``."""
        following = self.offset + len(items)
        return Page[T](items=list(items), total=total, limit=self.limit, offset=self.offset,
                       next_offset=following if following < total else None)

    def slice(self, items: Sequence[T]) -> Page[T]:
        """The page of a whole collection."""
        return self.page(items[self.offset : self.offset + self.limit], len(items))


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")] = 0,
) -> PageParams:
    """FastAPI dependency: the requested page."""
    return PageParams(limit, offset)
