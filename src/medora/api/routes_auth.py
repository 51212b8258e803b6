"""Signing in: exchange a username and password for a short-lived login token, and ask who you are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from medora.api import problems
from medora.api.auth import Principal, principal
from medora.api.context import server_of
from medora.api.schemas import LoginRequest, LoginResult, Me
from medora.publish.users import ROLE_SCOPES

router = APIRouter(prefix="/v1/auth", tags=["auth"], responses=problems.responses(400, 401, 413, 422, 429, 500, 503))


@router.post("/login", response_model=LoginResult, summary="Log in")
def login(request: Request, body: LoginRequest) -> LoginResult:
    """A login token for ``Authorization: Bearer``, valid for the server's session lifetime."""
    server = server_of(request)
    user = server.libraries.local().accounts.authenticate_password(body.username, body.password)
    token, expires = server.sessions.issue(user.id)
    return LoginResult(token=token, expires_at=expires.isoformat(timespec="seconds"), user=user,
                       scopes=sorted(ROLE_SCOPES[user.role]))


@router.get("/me", response_model=Me, summary="Who am I")
def me(caller: Annotated[Principal, Depends(principal)]) -> Me:
    return Me(user=caller.user, role=caller.actor.role, scopes=sorted(caller.scopes))
