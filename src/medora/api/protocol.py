"""HTTP/1.1 connections that must send a request's headers within a deadline (against slow clients).

uvicorn closes idle keep-alive connections, but waits forever for the rest of a request's headers:
one client sending a byte now and then holds a connection, and enough of them hold them all.
``HeaderTimeoutProtocol`` (uvicorn's h11 protocol) starts a timer when a connection opens and
whenever bytes of a new request arrive, stops it once the headers are complete, and closes the
connection if it fires first. ``medora serve`` uses it with ``ApiSettings.header_timeout_s``
(handed to workers as ``$MEDORA_HEADER_TIMEOUT_S``).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_ENV = "MEDORA_HEADER_TIMEOUT_S"
DEFAULT_HEADER_TIMEOUT_S = 10.0


class HeaderTimeoutProtocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.header_timeout = float(os.environ.get(HEADER_TIMEOUT_ENV) or DEFAULT_HEADER_TIMEOUT_S)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:  # part of a request's head, still waiting for the rest
            self._arm()
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()
