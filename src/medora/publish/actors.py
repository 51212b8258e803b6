"""Who acts: the roles of the publishing workflow and the ``Actor`` every mutating call names.

Users hold one of ``USER_ROLES``. Two more roles never belong to a user: ``anonymous`` (no
credentials) and ``system`` (Medora itself, e.g. reopening articles whose sources changed).
"""

from __future__ import annotations

from dataclasses import dataclass

READER, REVIEWER, EDITOR, ADMIN = "reader", "reviewer", "editor", "admin"
ANONYMOUS, SYSTEM_ROLE = "anonymous", "system"
USER_ROLES = (READER, REVIEWER, EDITOR, ADMIN)
ROLES = (ANONYMOUS, *USER_ROLES, SYSTEM_ROLE)


@dataclass(frozen=True)
class Actor:
    """The author of one request: role, user (None for anonymous and system) and client address for the audit log."""

    role: str
    user_id: int | None = None
    username: str = ANONYMOUS
    client: str | None = None

    @classmethod
    def anonymous(cls, client: str | None = None) -> Actor:
        return cls(ANONYMOUS, None, ANONYMOUS, client)


SYSTEM = Actor(SYSTEM_ROLE, None, SYSTEM_ROLE)
