"""The JSON shapes of CDS Hooks 2.0 that Medora sends: discovery, service response, cards.

Optional fields are ``None`` here and left out of the JSON (the routes serialise with
``exclude_none``): the specification forbids null and empty values.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

SUMMARY_LIMIT = 139  # "<140-character summary"


class Coding(BaseModel):
    system: str | None = None
    code: str
    display: str | None = None


class Source(BaseModel):
    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Link(BaseModel):
    label: str
    url: str
    type: Literal["absolute", "smart"] = "absolute"
    appContext: str | None = None


class Card(BaseModel):
    uuid: str = Field(default_factory=lambda: str(uuid.uuid4()))
    summary: str = Field(max_length=SUMMARY_LIMIT)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    links: list[Link] | None = None


class CdsResponse(BaseModel):
    cards: list[Card]


class ServiceDescription(BaseModel):
    hook: str
    title: str
    description: str
    id: str
    prefetch: dict[str, str] | None = None


class Discovery(BaseModel):
    services: list[ServiceDescription]
