"""One library connection per worker thread.

A library connection (SQLite file or PostgreSQL) must not serve two requests at once, and FastAPI
runs each synchronous endpoint and dependency on some thread of its pool. ``Libraries.local()``
gives the calling thread its own store (with the publishing service, accounts and retriever built
on it), opened on first use and reused by later requests on that thread. Call it inside the
function that uses it, never pass the result to another thread. Writes from different threads are
then transactions on separate connections (``publish.database.transaction``: one writer at a time),
so two requests acting on one article revision cannot both succeed.

A PostgreSQL connection does not survive a server restart. Before handing out a thread's library,
``local()`` checks, without a round trip, that the server has not ended its connection, and opens
a fresh one if it has (a ``LibraryError``, answered 503, while the server is still down). A request
whose connection is lost while it runs fails (503 problem, never retried: a write may or may not
have committed); the thread's next request reconnects.
"""

from __future__ import annotations

import select
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from medora.api.config import ApiSettings
from medora.library.open import open_store
from medora.library.sqlite_store import SQLiteStore
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
        if held is not None:
            if held[0] == self._generation and connected(held[1].store):
                return held[1]
            self._local.held = None
            self._forget(held[1].store)
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

    def _forget(self, store: Store) -> None:
        """Close a thread's store whose connection is gone (unless ``close()`` already did)."""
        with self._guard:
            mine = any(s is store for s in self._opened)
            self._opened = [s for s in self._opened if s is not store]
        if mine:
            store.close()


def connected(store: Store) -> bool:
    """False when the PostgreSQL server has ended the store's connection (a restart, an administrator).

    No round trip: an idle connection has nothing to read, unless the server sent its last message
    and closed the socket; reading up to that end marks the connection broken.
    """
    if isinstance(store, SQLiteStore):
        return True
    import psycopg

    conn = store.conn
    try:
        while not conn.closed and select.select([conn], [], [], 0)[0]:
            conn.pgconn.consume_input()
    except (OSError, psycopg.Error):
        return False
    return not conn.closed


@dataclass
class Server:
    """Everything the routes share: settings, the per-thread libraries and the login-token signer."""

    settings: Settings
    api: ApiSettings
    libraries: Libraries
    sessions: SessionTokens


def server_of(request: Request) -> Server:
    return request.app.state.medora
