"""The publishing administration commands (``medora.cli_admin``): users, tokens, review and articles,
run through click on a real library; ``medora serve`` itself runs in test_api_security."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner
from test_api_common import (
    PASSWORD,
    QUESTION,
)

from medora.answer.compose import answer_question
from medora.cli_admin import COMMANDS
from medora.library.sqlite_store import SQLiteStore
from medora.publish import Accounts, PublishingService
from medora.publish.errors import Unauthenticated
from medora.settings import Settings

pytest_plugins = ("test_api_common",)  # its fixtures: template_library, api_library


@click.group()
def medora() -> None:
    """Stands in for ``medora.cli.main``, which adds the same commands."""


for _command in COMMANDS:
    medora.add_command(_command)


@pytest.fixture
def run(api_library):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, code: int = 0):
        result = runner.invoke(medora, [*args, "--library", str(api_library.path)], input=input)
        assert result.exit_code == code, (args, result.output, result.stderr)
        return result

    return invoke


def _authenticates(path, secret: str) -> bool:
    with SQLiteStore(path) as store:
        try:
            Accounts(store).authenticate_token(secret)
        except Unauthenticated:
            return False
        return True


def test_users_and_tokens(run, api_library):
    assert "added grace (reviewer)" in run("users", "add", "Grace", "--role", "reviewer", "--name", "Dr Grace Hopper",
                                           "--with-password", input=f"{PASSWORD}\n").output
    users = {u["username"]: u for u in json.loads(run("users", "list", "--format", "json").stdout)}
    assert (users["grace"]["display_name"], users["grace"]["role"]) == ("Dr Grace Hopper", "reviewer")
    with SQLiteStore(api_library.path) as store:
        assert Accounts(store).authenticate_password("grace", PASSWORD).username == "grace"

    created = run("tokens", "create", "grace", "--name", "laptop", "--scope", "read", "--scope", "review")
    secret = created.stdout.strip()
    assert secret.startswith("mdr_") and "not shown again" in created.stderr
    assert _authenticates(api_library.path, secret)
    listed = json.loads(run("tokens", "list", "grace", "--format", "json").stdout)
    assert [(t["name"], t["scopes"]) for t in listed] == [("laptop", ["read", "review"])]
    assert secret not in run("tokens", "list", "grace").stdout

    run("users", "disable", "grace")
    assert not _authenticates(api_library.path, secret)
    run("users", "enable", "grace")
    assert _authenticates(api_library.path, secret)
    assert "revoked" in run("tokens", "revoke", str(listed[0]["id"])).output
    assert not _authenticates(api_library.path, secret)

    assert "a reader cannot hold scope review" in run("tokens", "create", "reader1", "--name", "x", "--scope",
                                                      "review", code=1).stderr
    assert "no user 'nobody'" in run("users", "disable", "nobody", code=2).stderr
    assert "taken" in run("users", "add", "grace", "--role", "editor", code=2).stderr


def test_review_and_articles(run, api_library):
    with SQLiteStore(api_library.path) as store:
        editor = next(u for u in Accounts(store).users() if u.username == "editor1").actor("cli")
        service = PublishingService(store)
        settings = Settings(library=api_library.path)
        article = service.create(answer_question(store, QUESTION, settings), editor)
        article = service.submit(article.slug, editor, article.revision)
    slug = article.slug

    queue = json.loads(run("review", "list", "--format", "json").stdout)
    assert [(a["slug"], a["state"]) for a in queue] == [(slug, "submitted")]
    assert run("review", "claim", slug, "--as", "reviewer1").stdout.strip() == f"{slug}: under review (revision 3)"
    stale = run("review", "approve", slug, "--as", "reviewer1", "--revision", "2", code=1)
    assert "at revision 3, not 2" in stale.stderr
    assert "changes requested" in run("review", "request-changes", slug, "--as", "reviewer1",
                                      "--reason", "Cite the label's table.").stdout
    assert "cannot reject" in run("review", "reject", slug, "--as", "reviewer1", "--reason", "no", code=1).stderr

    with SQLiteStore(api_library.path) as store:
        service = PublishingService(store)
        answer = answer_question(store, QUESTION, settings)
        answer.sections[-1].statements.pop()  # the editor drops one statement in version 2
        article = service.revise(slug, answer, editor, service.get(slug, editor).revision)
        service.submit(slug, editor, article.revision)
    run("review", "claim", slug, "--as", "reviewer1")
    assert "approved" in run("review", "approve", slug, "--as", "reviewer1").stdout

    approved = json.loads(run("articles", "list", "--state", "approved", "--format", "json").stdout)
    assert [(a["slug"], a["approved_by"], a["approved_version"]) for a in approved] == [(slug, "reviewer1", 2)]
    shown = run("articles", "show", slug, "--version", "1").stdout
    assert f"{slug} version 1 (clinician); article approved" in shown and QUESTION in shown
    diff = json.loads(run("articles", "diff", slug, "--from", "1", "--to", "2", "--format", "json").stdout)
    assert [e["change"] for e in diff["entries"]] == ["removed"]
    assert run("articles", "diff", slug, "--from", "1", "--to", "2").stdout.count("\n- [") == 1
    state = json.loads(run("articles", "show", slug, "--format", "json").stdout)["article"]
    assert (state["state"], state["approved_by"], state["current_version"]) == ("approved", "reviewer1", 2)
    assert "no library" in CliRunner().invoke(medora, ["review", "list", "--library", "/nonexistent/x.db"]).stderr
