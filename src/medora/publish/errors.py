"""Errors of the publishing layer, each with the HTTP status the REST API will answer with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from medora.errors import MedoraError

if TYPE_CHECKING:
    from medora.publish.articles import ArticleState


class PublishError(MedoraError):
    """Base class; ``http_status`` is what the API maps the error to."""

    http_status = 400


class InvalidInput(PublishError):
    """A request the caller can correct: an empty reason, an unknown statement, a quote that is not in its passage."""

    http_status = 422
    exit_code = 2


class NotFound(PublishError):
    http_status = 404


class Unauthenticated(PublishError):
    """No valid credentials: anonymous actors, wrong passwords, unknown or revoked tokens, disabled users."""

    http_status = 401


class Forbidden(PublishError):
    """The actor is known but its role (or the token's scope) does not allow this."""

    http_status = 403


class InvalidTransition(PublishError):
    """The action does not apply to the article's current state (approving a draft, revising under review)."""

    http_status = 409


class Conflict(PublishError):
    """The caller acted on an old revision, or the article already exists; ``current`` is the article as it is now."""

    http_status = 409

    def __init__(self, message: str, current: ArticleState):
        super().__init__(message)
        self.current = current


class TooManyAttempts(PublishError):
    """Too many failed logins for this account or address: wait ``retry_after`` seconds (``login_guard``)."""

    http_status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
