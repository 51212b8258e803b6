"""Backoff after failed logins, per account and per client address, kept in the library.

Every failed password login adds one to the ``login_failures`` row of the account
(``user:<name>``, known or not) and of the client address (``ip:<address>``). Past a few free
failures (5 per account, 20 per address) the next attempt must wait 2, 4, 8... seconds after the
last failure, at most 15 minutes; attempts inside the wait are refused without checking the
password (``TooManyAttempts``, 429 with Retry-After) and do not count. A successful login clears
the account's row, never the address's. Rows idle for a day are forgotten. Because the rows live
in the library, every worker and host serving it enforces one backoff.
"""

from __future__ import annotations

import time

from medora.publish.database import Db

ACCOUNT_FREE = 5
ADDRESS_FREE = 20
MAX_WAIT_S = 15 * 60
FORGET_S = 24 * 3600


def keys(username: str, client: str | None) -> list[tuple[str, int]]:
    """(row key, free failures) for an attempt on ``username`` from ``client``."""
    found = [(f"user:{username[:64]}", ACCOUNT_FREE)]
    return found + [(f"ip:{client}", ADDRESS_FREE)] if client else found


def _wait(failures: int, free: int) -> float:
    return 0.0 if failures < free else float(min(2 ** (failures - free + 1), MAX_WAIT_S))


def seconds_to_wait(db: Db, attempt: list[tuple[str, int]], now: float | None = None) -> float:
    """How long this attempt must still wait (0: it may try)."""
    now = time.time() if now is None else now
    longest = 0.0
    for key, free in attempt:
        row = db.execute("SELECT failures, last_at FROM login_failures WHERE key = ?", (key,)).fetchone()
        if row is not None:
            longest = max(longest, row[1] + _wait(row[0], free) - now)
    return max(0.0, longest)


def record_failure(db: Db, attempt: list[tuple[str, int]], now: float | None = None) -> None:
    now = time.time() if now is None else now
    db.execute("DELETE FROM login_failures WHERE last_at < ?", (now - FORGET_S,))
    for key, _ in attempt:
        db.execute("INSERT INTO login_failures(key, failures, last_at) VALUES (?, 1, ?) ON CONFLICT(key) "
                   "DO UPDATE SET failures = login_failures.failures + 1, last_at = excluded.last_at", (key, now))


def clear_account(db: Db, username: str) -> None:
    db.execute("DELETE FROM login_failures WHERE key = ?", (f"user:{username[:64]}",))
