"""One library connection per worker thread.

A library connection (SQLite file or PostgreSQL) must not serve two requests at once, and FastAPI
runs each synchronous endpoint and dependency on some thread of its pool. ``Libraries.local()``
gives the calling thread its own store (with the publishing service, accounts and retriever built
on it), opened on first use and reused by later requests on that thread. Call it inside the
function that uses it, never pass the result to another thread. Writes from different threads are
then transactions on separate connections (``publish.database.transaction``: one writer at a time),
so two requests acting on one article revision cannot both succeed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from medora.api.config import ApiSettings
from medora.library.open import open_store
from medora.publish import Accounts, PublishingService
from medora.publish.database import Store
from medora.retrieve.search import Retriever
from medora.settings import Settings

if TYPE_CHECKING:
    from medora.api.auth import SessionTokens


@dataclass
class Library:
    """What one thread uses to serve requests."""

    store: Store
    publishing: PublishingService
    accounts: Accounts
    retriever: Retriever


class Libraries:
    """The per-thread connections to one library file; ``close()`` closes all of them."""

    def __init__(self, settings: Settings):
        self.settings = settings
        open_store(settings.library, create=False).close()  # fail at start-up on a missing or unusable file
        self._local = threading.local()
        self._opened: list[Store] = []
        self._generation = 0  # bumped by close(): threads then open fresh connections
        self._guard = threading.Lock()

    def local(self) -> Library:
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == self._generation:
            return held[1]
        store = open_store(self.settings.library, create=False)
        with self._guard:
            self._opened.append(store)
            generation = self._generation
        retriever = Retriever(store, mode=self.settings.retrieval, embedder_spec=self.settings.embedder,
                              normalize=self.settings.question_step_set)
        library = Library(store, PublishingService(store), Accounts(store), retriever)
        self._local.held = (generation, library)
        return library

    def close(self) -> None:
        with self._guard:
            opened, self._opened = self._opened, []
            self._generation += 1
        for store in opened:
            store.close()


@dataclass
class Server:
    """Everything the routes share: settings, the per-thread libraries and the login-token signer."""

    settings: Settings
    api: ApiSettings
    libraries: Libraries
    sessions: SessionTokens


def server_of(request: Request) -> Server:
    return request.app.state.medora
