"""The review workflow: one transition table, enforced by one function.

``TRANSITIONS[(state, action)] = (new state, roles allowed)``. Anything not in the table is not
allowed. ``new`` is the pseudo state of an article that does not exist yet (``create``).
See ``editorial_policy.md`` for the same rules in prose.
"""

from __future__ import annotations

from medora.publish.actors import ADMIN, ANONYMOUS, EDITOR, REVIEWER, SYSTEM_ROLE
from medora.publish.errors import (
    Forbidden,
    InvalidInput,
    InvalidTransition,
    Unauthenticated,
)

NEW = "new"
DRAFT = "draft"
SUBMITTED = "submitted"
UNDER_REVIEW = "under_review"
CHANGES_REQUESTED = "changes_requested"
APPROVED = "approved"
REJECTED = "rejected"
RETIRED = "retired"
STATES = (DRAFT, SUBMITTED, UNDER_REVIEW, CHANGES_REQUESTED, APPROVED, REJECTED, RETIRED)

ACTIONS = ("create", "submit", "claim", "comment", "edit", "request_changes", "approve", "reject", "retire",
           "revise", "reopen")

EDITORS = frozenset({EDITOR, ADMIN})
BOARD = frozenset({REVIEWER, ADMIN})  # the advisory board
STAFF = frozenset({REVIEWER, EDITOR, ADMIN})
_OPEN = (DRAFT, SUBMITTED, UNDER_REVIEW, CHANGES_REQUESTED, APPROVED, REJECTED)  # every state but retired

TRANSITIONS: dict[tuple[str, str], tuple[str, frozenset[str]]] = {
    (NEW, "create"): (DRAFT, EDITORS),
    (DRAFT, "submit"): (SUBMITTED, EDITORS),
    (CHANGES_REQUESTED, "submit"): (SUBMITTED, EDITORS),
    (SUBMITTED, "claim"): (UNDER_REVIEW, BOARD),
    (UNDER_REVIEW, "claim"): (UNDER_REVIEW, BOARD),
    **{(state, "comment"): (state, STAFF) for state in _OPEN},
    (DRAFT, "edit"): (DRAFT, EDITORS),
    (CHANGES_REQUESTED, "edit"): (CHANGES_REQUESTED, EDITORS),
    (UNDER_REVIEW, "edit"): (UNDER_REVIEW, STAFF),
    (UNDER_REVIEW, "request_changes"): (CHANGES_REQUESTED, BOARD),
    (UNDER_REVIEW, "approve"): (APPROVED, BOARD),
    (UNDER_REVIEW, "reject"): (REJECTED, BOARD),
    (SUBMITTED, "reject"): (REJECTED, EDITORS),
    **{(state, "retire"): (RETIRED, EDITORS) for state in _OPEN},
    **{(state, "revise"): (DRAFT, EDITORS) for state in (DRAFT, SUBMITTED, CHANGES_REQUESTED, APPROVED, REJECTED,
                                                          RETIRED)},
    (APPROVED, "reopen"): (UNDER_REVIEW, EDITORS | {SYSTEM_ROLE}),
    (UNDER_REVIEW, "reopen"): (UNDER_REVIEW, frozenset({SYSTEM_ROLE})),
    (REJECTED, "reopen"): (UNDER_REVIEW, EDITORS),
}


def _may_ever(action: str, role: str) -> bool:
    return any(a == action and role in roles for (_, a), (_, roles) in TRANSITIONS.items())


def check_role(action: str, role: str) -> None:
    """Refuse early a role that may take ``action`` in no state at all (before the article is even read)."""
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}")
    if not _may_ever(action, role):
        _deny(action, role)


def authorize(state: str, action: str, role: str) -> str:
    """The state ``action`` by ``role`` leads to from ``state``, or the error that refuses it."""
    check_role(action, role)
    rule = TRANSITIONS.get((state, action))
    if rule is None:
        raise InvalidTransition(f"cannot {action.replace('_', ' ')} an article that is {state.replace('_', ' ')}")
    new_state, roles = rule
    if role not in roles:
        _deny(action, role, state)
    return new_state


def check_four_eyes(approver: str, claimed_by: str | None, authors: set[str]) -> None:
    """Approval takes a second person: the reviewer who holds the claim, and who wrote no part of the version."""
    if claimed_by != approver:
        holder = f"{claimed_by} holds the claim" if claimed_by else "nobody holds the claim"
        raise Forbidden(f"{holder}; claim the article first to approve it (a take-over is recorded)")
    if approver in authors:
        raise Forbidden("four eyes: you created, revised or edited this version, so another reviewer must "
                        "approve it")


def check_can_read_unpublished(role: str) -> None:
    """Drafts, reviews, comments and history are for staff; everyone else reads approved versions only."""
    if role not in STAFF:
        _deny("read unpublished", role)


def _deny(action: str, role: str, state: str | None = None) -> None:
    if role == ANONYMOUS:
        raise Unauthenticated(f"sign in to {action.replace('_', ' ')} articles")
    where = f" an article that is {state.replace('_', ' ')}" if state else " articles"
    raise Forbidden(f"a {role} cannot {action.replace('_', ' ')}{where}")
