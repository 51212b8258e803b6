"""Command-line publishing administration: ``medora serve``, ``review``, ``articles``, ``users``, ``tokens``.

``cli.py`` adds these with ``main.add_command(...)``. Whoever can open the library file is trusted
as its operator: listing and reading act as a local admin, account and token changes as the
``system`` actor. Review actions name the user they are taken for (``--as USERNAME``), so the
audit log and the approval record a real reviewer.

    medora serve --host 127.0.0.1 --port 8000 --library lib.db
    medora users add ada --role reviewer --name "Dr Ada Lovelace" --with-password
    medora tokens create ada --name "ada's laptop"
    medora review list
    medora review approve what-causes-tourette-syndrome --as ada
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from medora.errors import UsageError
from medora.library.open import open_store
from medora.publish import SYSTEM, Accounts, Actor, PublishingService, workflow
from medora.publish.actors import ADMIN, USER_ROLES
from medora.publish.articles import AUDIENCES, ArticleState
from medora.publish.users import ROLE_SCOPES, SCOPES, User
from medora.settings import load_settings

LOCAL_READER = Actor(ADMIN, None, "local", "cli")  # reads only: it never writes or enters the audit log


def _handled(fn: Callable) -> Callable:
    """``medora.cli.handle_errors`` around ``fn``, looked up when called (``medora.cli`` imports this module)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from medora.cli import handle_errors

        return handle_errors(fn)(*args, **kwargs)

    return wrapper


def _library_option(fn: Callable) -> Callable:
    return click.option("--library", type=str, default=None,
                        help="Library: a SQLite file or a postgresql:// URL (default: $MEDORA_LIBRARY, "
                             "$MEDORA_DATABASE_URL, the config file, or the per-user data dir).")(fn)


def _format_option(*choices: str) -> Callable:
    return click.option("--format", "fmt", type=click.Choice(choices), default=choices[0], show_default=True,
                        help="Output format.")


@contextmanager
def _store(library: str | None) -> Iterator[Any]:
    with open_store(load_settings(library=library).library, create=False) as store:
        yield store


def _user(accounts: Accounts, username: str) -> User:
    wanted = username.strip().lower()
    for user in accounts.users():
        if user.username == wanted:
            return user
    raise UsageError(f"no user {username!r}; see `medora users list`")


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table()
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    Console(highlight=False).print(table)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


# ------------------------------------------------------------------------------------ serve


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="0: any free port.")
@_library_option
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes; more than one keeps rate limits in the library, shared by all.")
@click.option("--anonymous-ask/--no-anonymous-ask", default=True, show_default=True,
              help="Let clients without a token ask questions.")
@click.option("--rate", type=click.FloatRange(0, 100_000), default=10.0, show_default=True,
              help="Requests per second each client (token, else address) may sustain; 0: no limit.")
@click.option("--burst", type=click.IntRange(1, 100_000), default=40, show_default=True,
              help="Requests a client may make at once.")
@click.option("--session-minutes", type=click.IntRange(1, 1440), default=60, show_default=True,
              help="Lifetime of login tokens.")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info",
              show_default=True)
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: one JSON object per line (time, level, logger, message, request_id, access fields).")
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="Log every request.")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True, metavar="IPS",
              help="Comma-separated proxy addresses (or *) whose X-Forwarded-For/-Proto are trusted.")
@click.option("--secure-cookies/--no-secure-cookies", default=None,
              help="Mark cookies Secure always / never (default: when the request came over https).")
@click.option("--api-docs/--no-api-docs", default=False, show_default=True,
              help="Serve Swagger UI at /docs and ReDoc at /redoc (they load scripts from a CDN).")
@click.option("--header-timeout", type=click.FloatRange(0.1, 300), default=10.0, show_default=True,
              help="Seconds a client may take to send a request's headers.")
@_handled
def serve(host: str, port: int, library: str | None, workers: int, anonymous_ask: bool, rate: float, burst: int,
          session_minutes: int, log_level: str, log_format: str, access_log: bool, forwarded_allow_ips: str,
          secure_cookies: bool | None, api_docs: bool, header_timeout: float) -> None:
    """Serve the web app (/) and the REST API (OpenAPI at /openapi.json; Swagger UI with --api-docs).

    \b
    Login tokens are signed with $MEDORA_SESSION_SECRET when set (keep sessions across
    restarts), else with a random key made at each start and shared by its workers.
    Secrets and question text never reach the logs. Probes: /v1/health (alive),
    /v1/ready (library usable); Prometheus metrics at /metrics.

    \b
    Example:
      medora serve --port 8000 --workers 2 --library ~/medora/library.db --log-format json
    """
    import shutil
    import tempfile

    metrics_dir = tempfile.mkdtemp(prefix="medora-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # before medora.api imports prometheus_client
    try:
        from medora.api import ApiSettings
        from medora.api.factory import SESSION_SECRET_ENV, run

        api = ApiSettings(anonymous_ask=anonymous_ask, rate_per_second=rate, rate_burst=burst,
                          session_minutes=session_minutes, workers=workers, access_log=access_log,
                          session_secret=os.environ.get(SESSION_SECRET_ENV) or None,
                          forwarded_allow_ips=forwarded_allow_ips, secure_cookies=secure_cookies, api_docs=api_docs,
                          header_timeout_s=header_timeout)
        run(load_settings(library=library), api, host=host, port=port, log_level=log_level, log_format=log_format)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


# ------------------------------------------------------------------------------------ review


@click.group()
def review() -> None:
    """The review queue and review actions, taken for a named reviewer (--as USERNAME)."""


def _state_rows(articles: list[ArticleState]) -> list[list[Any]]:
    return [[a.slug, a.state, a.revision, a.current_version, a.claimed_by, a.updated_at] for a in articles]


def _show_states(articles: list[ArticleState], fmt: str) -> None:
    if fmt == "json":
        _echo_json([a.model_dump(mode="json") for a in articles])
    else:
        _print_table(("slug", "state", "revision", "version", "claimed by", "updated"), _state_rows(articles))


@review.command("list")
@_library_option
@_format_option("table", "json")
@_handled
def review_list(library: str | None, fmt: str) -> None:
    """Articles waiting for the advisory board: submitted or under review, longest waiting first."""
    with _store(library) as store:
        service = PublishingService(store)
        waiting = [a for state in (workflow.SUBMITTED, workflow.UNDER_REVIEW)
                   for a in service.list_articles(LOCAL_READER, state)]
    _show_states(sorted(waiting, key=lambda a: (a.updated_at, a.id)), fmt)


def _act(library: str | None, slug: str, username: str, revision: int | None,
         action: Callable[[PublishingService, Actor, int], ArticleState]) -> None:
    with _store(library) as store:
        actor = _user(Accounts(store), username).actor("cli")
        service = PublishingService(store)
        if revision is None:
            revision = service.get(slug, LOCAL_READER).revision
        article = action(service, actor, revision)
    click.echo(f"{article.slug}: {article.state.replace('_', ' ')} (revision {article.revision})")


def _review_action(name: str, summary: str, with_reason: bool) -> click.Command:
    """A ``review NAME SLUG --as USER [--revision N] [--reason TEXT]`` command."""

    @click.argument("slug")
    @click.option("--as", "username", required=True, help="The reviewer (or editor) taking the action.")
    @click.option("--revision", type=click.IntRange(1), default=None,
                  help="The revision you reviewed; refused if the article has changed since (default: current).")
    @_library_option
    @_handled
    def command(slug: str, username: str, revision: int | None, library: str | None, reason: str = "") -> None:
        method = getattr(PublishingService, name.replace("-", "_"))
        extra = (reason,) if with_reason else ()
        _act(library, slug, username, revision, lambda service, actor, rev: method(service, slug, actor, rev, *extra))

    if with_reason:
        command = click.option("--reason", required=True, help="Why (shown to the editors).")(command)
    return review.command(name, help=summary)(command)


_review_action("claim", "Claim a submitted article for review.", False)
_review_action("approve", "Approve the article's current version: it is published.", False)
_review_action("request-changes", "Send the article back to its editors with a reason.", True)
_review_action("reject", "Reject the article with a reason.", True)


# ------------------------------------------------------------------------------------ articles


@click.group()
def articles() -> None:
    """Saved answers under review or published."""


@articles.command("list")
@click.option("--state", type=click.Choice(workflow.STATES), default=None, help="Only articles in this state.")
@_library_option
@_format_option("table", "json")
@_handled
def articles_list(state: str | None, library: str | None, fmt: str) -> None:
    """Every article, most recently changed first."""
    with _store(library) as store:
        found = PublishingService(store).list_articles(LOCAL_READER, state)
    _show_states(found, fmt)


@articles.command("show")
@click.argument("slug")
@click.option("--version", type=click.IntRange(1), default=None, help="Version number (default: the current one).")
@click.option("--audience", type=click.Choice(AUDIENCES), default=None, help="Audience variant.")
@_library_option
@_format_option("markdown", "json")
@_handled
def articles_show(slug: str, version: int | None, audience: str | None, library: str | None, fmt: str) -> None:
    """One version of an article with its review state."""
    from medora.web.exports import to_markdown

    with _store(library) as store:
        service = PublishingService(store)
        article = service.get(slug, LOCAL_READER)
        shown = service.version(slug, LOCAL_READER, version, audience)
    if fmt == "json":
        _echo_json({"article": article.model_dump(mode="json"), "version": shown.model_dump(mode="json",
                                                                                           by_alias=True)})
        return
    reason = f" — {article.state_reason}" if article.state_reason else ""
    click.echo(f"<!-- {slug} version {shown.version} ({shown.audience}); article {article.state.replace('_', ' ')}"
               f"{reason}; revision {article.revision} -->")
    click.echo(to_markdown(shown.answer))


@articles.command("diff")
@click.argument("slug")
@click.option("--from", "old", type=click.IntRange(1), required=True, help="The older version.")
@click.option("--to", "new", type=click.IntRange(1), required=True, help="The newer version.")
@click.option("--audience", type=click.Choice(AUDIENCES), default=None, help="Audience variant.")
@_library_option
@_format_option("text", "json")
@_handled
def articles_diff(slug: str, old: int, new: int, audience: str | None, library: str | None, fmt: str) -> None:
    """Statements added, removed, changed and re-cited between two versions."""
    with _store(library) as store:
        diff = PublishingService(store).diff(slug, LOCAL_READER, old, new, audience)
    if fmt == "json":
        _echo_json(diff.model_dump(mode="json"))
        return
    click.echo(f"{slug}: version {old} → {new} ({diff.audience}); {diff.unchanged} statements unchanged")
    marks = {"added": "+", "removed": "-", "changed": "~", "re_cited": "@"}
    for entry in diff.entries:
        if entry.old is not None and entry.change != "removed":
            click.echo(f"{marks[entry.change]} [{entry.section}] {entry.old.text}")
            click.echo(f"  → {entry.new.text if entry.new else ''}")
        else:
            click.echo(f"{marks[entry.change]} [{entry.section}] {(entry.new or entry.old).text}")


# ------------------------------------------------------------------------------------ users


@click.group()
def users() -> None:
    """User accounts (reader, reviewer, editor, admin)."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(USER_ROLES), required=True)
@click.option("--name", "display_name", default="", help="Display name (default: the username).")
@click.option("--with-password", is_flag=True,
              help="Prompt for a password (read from stdin when not a terminal) so the user can log in.")
@_library_option
@_handled
def users_add(username: str, role: str, display_name: str, with_password: bool, library: str | None) -> None:
    """Add a user. Without --with-password the user signs in with API tokens only."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt=sys.stdin.isatty()) \
        if with_password else None
    with _store(library) as store:
        user = Accounts(store).create_user(SYSTEM, username, display_name, role, password)
    click.echo(f"added {user.username} ({user.role}), id {user.id}")


@users.command("list")
@_library_option
@_format_option("table", "json")
@_handled
def users_list(library: str | None, fmt: str) -> None:
    with _store(library) as store:
        found = Accounts(store).users()
    if fmt == "json":
        _echo_json([u.model_dump(mode="json") for u in found])
        return
    _print_table(("id", "username", "name", "role", "disabled", "created"),
                 [[u.id, u.username, u.display_name, u.role, "yes" if u.disabled else "", u.created_at] for u in found])


def _set_disabled(username: str, library: str | None, disabled: bool) -> None:
    with _store(library) as store:
        accounts = Accounts(store)
        user = accounts.set_disabled(SYSTEM, _user(accounts, username).id, disabled)
    click.echo(f"{user.username}: {'disabled (its tokens stop working)' if user.disabled else 'enabled'}")


@users.command("disable")
@click.argument("username")
@_library_option
@_handled
def users_disable(username: str, library: str | None) -> None:
    """Stop a user: passwords and every token of theirs are refused from now on."""
    _set_disabled(username, library, True)


@users.command("enable")
@click.argument("username")
@_library_option
@_handled
def users_enable(username: str, library: str | None) -> None:
    _set_disabled(username, library, False)


# ------------------------------------------------------------------------------------ tokens


@click.group()
def tokens() -> None:
    """API tokens: created for a user, shown once, revocable."""


@tokens.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What or who uses the token.")
@click.option("--scope", "scopes", type=click.Choice(SCOPES), multiple=True,
              help="Repeat for each scope (default: every scope the user's role allows).")
@_library_option
@_handled
def tokens_create(username: str, name: str, scopes: tuple[str, ...], library: str | None) -> None:
    """Create a token; the secret goes to stdout, this once (only its hash is stored)."""
    with _store(library) as store:
        accounts = Accounts(store)
        user = _user(accounts, username)
        new = accounts.create_token(SYSTEM, user.id, name, list(scopes) or sorted(ROLE_SCOPES[user.role]))
    click.echo(f"token {new.token.id} for {user.username}, scopes {', '.join(new.token.scopes)}; "
               "copy the secret now, it is not shown again:", err=True)
    click.echo(new.secret)


@tokens.command("list")
@click.argument("username")
@_library_option
@_format_option("table", "json")
@_handled
def tokens_list(username: str, library: str | None, fmt: str) -> None:
    """A user's tokens (never their secrets)."""
    with _store(library) as store:
        accounts = Accounts(store)
        found = accounts.tokens(_user(accounts, username).id)
    if fmt == "json":
        _echo_json([t.model_dump(mode="json") for t in found])
        return
    _print_table(("id", "name", "prefix", "scopes", "created", "last used", "revoked"),
                 [[t.id, t.name, t.prefix + "…", " ".join(t.scopes), t.created_at, t.last_used_at, t.revoked_at]
                  for t in found])


@tokens.command("revoke")
@click.argument("token_id", type=click.IntRange(1))
@_library_option
@_handled
def tokens_revoke(token_id: int, library: str | None) -> None:
    """Revoke a token by id (see `medora tokens list USERNAME`)."""
    with _store(library) as store:
        token = Accounts(store).revoke_token(SYSTEM, token_id)
    click.echo(f"token {token.id} ({token.name}) revoked at {token.revoked_at}")




# ------------------------------------------------------------------------------------ threads


@click.group()
def threads() -> None:
    """Follow-up threads: the redacted questions of a conversation, kept for a while."""


@threads.command("purge")
@click.option("--older-than", "days", type=click.IntRange(0, 3650), default=None,
              help="Days since a thread's last turn (default: the thread_retention_days setting, 30).")
@_library_option
@_handled
def threads_purge(days: int | None, library: str | None) -> None:
    """Delete threads idle longer than the retention period (run it daily, e.g. from cron).

    \b
    Example:
      medora threads purge                 # threads idle for more than thread_retention_days
      medora threads purge --older-than 0  # every thread
    """
    from medora.library.retention import purge_threads

    settings = load_settings(library=library)
    with _store(library) as store:
        purged = purge_threads(store, settings.thread_retention_days if days is None else days)
    click.echo(f"deleted {purged.threads} threads ({purged.turns} turns) idle since before {purged.cutoff}")


COMMANDS = (serve, review, articles, users, tokens, threads)
"""What ``cli.py`` adds: ``for command in COMMANDS: main.add_command(command)``."""
