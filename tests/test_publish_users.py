"""Users, passwords (argon2), API tokens (hashed, scoped, revocable) and the append-only audit log."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from medora.library.sqlite_store import SQLiteStore
from medora.publish import SYSTEM, Accounts, Actor, PublishingService
from medora.publish.errors import Forbidden, InvalidInput, NotFound, Unauthenticated

PASSWORD = "correct horse battery"


@pytest.fixture
def store(tmp_path):
    with SQLiteStore(tmp_path / "lib.db") as s:
        yield s


@pytest.fixture
def accounts(store) -> Accounts:
    return Accounts(store)


def _all_text(store: SQLiteStore) -> str:
    """Every value in every table, to prove a secret is stored nowhere."""
    tables = [r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
              if not r[0].startswith("passages_fts")]
    return "\n".join(str(row) for t in tables for row in store.db.execute(f"SELECT * FROM {t}"))


def test_passwords_are_argon2_hashed_and_checked(accounts, store):
    user = accounts.create_user(SYSTEM, "Ada.Reviewer", "Dr Ada  Lovelace", "reviewer", PASSWORD)
    assert (user.username, user.display_name, user.role, user.disabled) == ("ada.reviewer", "Dr Ada Lovelace",
                                                                            "reviewer", False)
    stored = store.db.execute("SELECT password_hash FROM users WHERE id = ?", (user.id,)).fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in _all_text(store)
    assert accounts.authenticate_password("ADA.reviewer", PASSWORD) == user

    failures = []
    for name, password in [("ada.reviewer", PASSWORD + "!"), ("nobody", PASSWORD), ("ada.reviewer", "")]:
        with pytest.raises(Unauthenticated) as caught:
            accounts.authenticate_password(name, password)
        failures.append(str(caught.value))
    assert len(set(failures)) == 1  # the message does not tell which part was wrong

    admin = accounts.create_user(SYSTEM, "root", "Root", "admin").actor()
    accounts.set_disabled(admin, user.id, True)
    with pytest.raises(Unauthenticated):
        accounts.authenticate_password("ada.reviewer", PASSWORD)
    accounts.set_disabled(admin, user.id, False)
    accounts.set_password(user.actor(), user.id, "a brand new passphrase")
    with pytest.raises(Unauthenticated):
        accounts.authenticate_password("ada.reviewer", PASSWORD)
    assert accounts.authenticate_password("ada.reviewer", "a brand new passphrase").id == user.id
    with pytest.raises(InvalidInput, match="10 to 1024 characters"):
        accounts.set_password(user.actor(), user.id, "short")


def test_only_admins_manage_users_and_input_is_checked(accounts):
    admin = accounts.create_user(SYSTEM, "root", "Root", "admin").actor()
    editor = accounts.create_user(admin, "ed", "Editor", "editor").actor()
    with pytest.raises(Forbidden):
        accounts.create_user(editor, "mallory", "Mallory", "admin")
    with pytest.raises(Forbidden):
        accounts.set_role(editor, editor.user_id, "admin")
    with pytest.raises(Forbidden):
        accounts.set_password(editor, admin.user_id, "takeover-attempt-1")
    with pytest.raises(InvalidInput, match="is taken"):
        accounts.create_user(admin, "ED", "Another", "reader")
    with pytest.raises(InvalidInput, match="unknown role"):
        accounts.create_user(admin, "zed", "Zed", "superuser")
    with pytest.raises(InvalidInput, match="username"):
        accounts.create_user(admin, "no spaces allowed", "X", "reader")
    with pytest.raises(NotFound):
        accounts.set_role(admin, 999, "reader")
    assert accounts.set_role(admin, editor.user_id, "reviewer").role == "reviewer"
    assert [u.username for u in accounts.users()] == ["ed", "root"]


def test_tokens_are_shown_once_stored_hashed_scoped_and_revocable(accounts, store):
    admin = accounts.create_user(SYSTEM, "root", "Root", "admin").actor()
    reviewer = accounts.create_user(admin, "rita", "Rita", "reviewer")
    made = accounts.create_token(reviewer.actor(), reviewer.id, "review laptop", ["review", "read"])
    secret = made.secret
    assert secret.startswith("mdr_") and len(secret) >= 40 and made.token.scopes == ["read", "review"]
    assert secret not in _all_text(store)
    assert store.db.execute("SELECT token_hash FROM api_tokens").fetchone()[0] == \
        hashlib.sha256(secret.encode()).hexdigest()
    assert made.token.prefix == secret[:8] and made.token.last_used_at is None

    user, token = accounts.authenticate_token(secret, "review")
    assert (user.id, token.id) == (reviewer.id, made.token.id) and token.last_used_at is not None
    assert accounts.tokens(reviewer.id)[0].last_used_at == token.last_used_at
    with pytest.raises(Forbidden, match="'admin' scope"):
        accounts.authenticate_token(secret, "admin")
    with pytest.raises(Unauthenticated):
        accounts.authenticate_token(secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    with pytest.raises(Forbidden, match="cannot hold scope admin"):
        accounts.create_token(admin, reviewer.id, "too much", ["admin"])
    with pytest.raises(InvalidInput, match="scopes must be"):
        accounts.create_token(admin, reviewer.id, "typo", ["reviews"])

    stranger = accounts.create_user(admin, "eve", "Eve", "editor").actor()
    with pytest.raises(Forbidden):
        accounts.revoke_token(stranger, made.token.id)
    with pytest.raises(Forbidden):
        accounts.create_token(stranger, reviewer.id, "for rita", ["read"])
    assert accounts.revoke_token(reviewer.actor(), made.token.id).revoked_at is not None
    with pytest.raises(Unauthenticated):
        accounts.authenticate_token(secret)

    second = accounts.create_token(admin, reviewer.id, "ci", ["read"]).secret
    assert accounts.authenticate_token(second, "read")[0].id == reviewer.id
    accounts.set_disabled(admin, reviewer.id, True)
    with pytest.raises(Unauthenticated):
        accounts.authenticate_token(second, "read")
    assert second not in _all_text(store)


def test_the_audit_log_is_append_only(accounts, store, tmp_path):
    admin = accounts.create_user(SYSTEM, "root", "Root", "admin").actor("198.51.100.4")
    accounts.create_user(admin, "rita", "Rita", "reviewer", PASSWORD)
    token = accounts.create_token(admin, admin.user_id, "ops", ["admin"])
    accounts.revoke_token(admin, token.token.id)
    rows = store.db.execute("SELECT actor, action, client FROM audit_log ORDER BY id").fetchall()
    assert rows == [("system", "create_user", None), ("root", "create_user", "198.51.100.4"),
                    ("root", "create_token", "198.51.100.4"), ("root", "revoke_token", "198.51.100.4")]
    log_text = str(store.db.execute("SELECT detail FROM audit_log").fetchall())
    assert PASSWORD not in log_text and token.secret not in log_text

    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("UPDATE audit_log SET actor = 'someone else'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("DELETE FROM audit_log WHERE id = 1")
    other = sqlite3.connect(tmp_path / "lib.db")  # the guard lives in the file, not in this process
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        other.execute("DELETE FROM audit_log")
    other.close()
    assert store.db.execute("SELECT actor, action, client FROM audit_log ORDER BY id").fetchall() == rows


def test_publishing_service_installs_the_guard_too(store):
    PublishingService(store).mark_stale([])
    store.db.execute("INSERT INTO audit_log(at, actor, actor_role, action) VALUES ('now', 'x', 'admin', 'test')")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("UPDATE audit_log SET action = 'changed'")


def test_anonymous_and_readers_cannot_read_unpublished_articles(store):
    svc = PublishingService(store)
    with pytest.raises(Unauthenticated):
        svc.list_articles(Actor.anonymous())
    with pytest.raises(Forbidden):
        svc.list_articles(Actor("reader", 5, "rita"))
    assert svc.list_articles(Actor("editor", 6, "ed")) == []
