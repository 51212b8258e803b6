"""Signing in and out: exchange a username and password for a short-lived login token, end it, ask who you are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from medora.api import problems
from medora.api.auth import Principal, client_address, principal, revoke_session
from medora.api.context import server_of
from medora.api.schemas import LoginRequest, LoginResult, Me
from medora.publish.errors import InvalidInput, Unauthenticated
from medora.publish.users import ROLE_SCOPES

router = APIRouter(prefix="/v1/auth", tags=["auth"], responses=problems.responses(400, 401, 413, 422, 429, 500, 503))


@router.post("/login", response_model=LoginResult, summary="Log in")
def login(request: Request, body: LoginRequest) -> LoginResult:
    """A login token for ``Authorization: Bearer``, valid for the server's session lifetime."""
    server = server_of(request)
    user = server.libraries.local().accounts.authenticate_password(body.username, body.password,
                                                                   client_address(request))
    token, expires = server.sessions.issue(user.id)
    return LoginResult(token=token, expires_at=expires.isoformat(timespec="seconds"), user=user,
                       scopes=sorted(ROLE_SCOPES[user.role]))


@router.post("/logout", status_code=204, summary="Log out")
def logout(request: Request, caller: Annotated[Principal, Depends(principal)]) -> Response:
    """End the login token sent in ``Authorization`` now, on every worker (API tokens: revoke them instead)."""
    caller.require("read")
    if caller.user is None:
        raise Unauthenticated("log in first")
    token = request.headers.get("authorization", "").strip().partition(" ")[2].strip()
    server = server_of(request)
    if not revoke_session(server.libraries.local().accounts, server.sessions, token):
        raise InvalidInput("this is not a login token; revoke an API token with `medora tokens revoke`")
    return Response(status_code=204)


@router.get("/me", response_model=Me, summary="Who am I")
def me(caller: Annotated[Principal, Depends(principal)]) -> Me:
    return Me(user=caller.user, role=caller.actor.role, scopes=sorted(caller.scopes))
