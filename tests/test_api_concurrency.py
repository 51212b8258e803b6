"""Concurrency on a real server: 20 clients asking and reviewing at once over loopback.

Fourteen staff clients (seven editors, seven reviewers, each with their own token) race to take
review actions on four shared articles, each action based on the revision it just read; six
anonymous clients ask questions (plain and streamed) and read the published list meanwhile. For a
bounded time (``MEDORA_API_SOAK_SECONDS``, default 30, as the issue asks), and for at least ``MIN_LOOPS``
rounds per staff client however slow the machine, every loop is bounded too. Afterwards:
no server error; every write either succeeded on the revision it named or was a 409 conflict; no
two writes succeeded on the same revision (no lost update); and each article's audit log replays,
entry by entry, the successful writes, ending in the article's final state.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass

import httpx
from test_api_common import (
    serving,
)

from medora.api import ApiSettings, create_app
from medora.library.sqlite_store import SQLiteStore
from medora.publish import SYSTEM, Accounts
from medora.publish.users import ROLE_SCOPES
from medora.settings import Settings

pytest_plugins = ("test_api_common",)  # its fixtures: template_library, api_library

SECONDS = float(os.environ.get("MEDORA_API_SOAK_SECONDS", "30"))
MAX_LOOPS = 2000  # per client, whatever the duration
# Per staff client, however slow the machine: enough rounds for every review action to happen
# (draft → submit → claim → approve takes three clients acting in turn).
MIN_LOOPS = 25
QUESTIONS = ("What are the side effects of atorvastatin?", "What is sildenafil used for?",
             "What are the warnings for Triaminic?", "What is the dose of sildenafil?")
ASKED = ("atorvastatin muscle pain", "Can I take sildenafil with nitrates?", "cough medicine for children",
         "What is Tourette syndrome?")
# (role, state) -> actions that role may take there (the editorial policy); one is picked at random.
CHOICES = {
    ("editor", "draft"): ("submit", "comment"),
    ("editor", "submitted"): ("comment",),
    ("editor", "under_review"): ("comment",),
    ("editor", "changes_requested"): ("submit", "revise"),
    ("editor", "approved"): ("revise", "comment"),
    ("reviewer", "draft"): ("comment",),
    ("reviewer", "submitted"): ("claim",),
    ("reviewer", "under_review"): ("comment", "claim"),  # not the claim holder: comment or take over
    ("reviewer", "changes_requested"): ("comment",),
    ("reviewer", "approved"): ("comment",),
}
# The claim holder's choices on the article they hold (four eyes: only they may approve).
HOLDER_CHOICES = ("approve", "request_changes", "comment")


@dataclass(frozen=True)
class Write:
    slug: str
    action: str
    expected: int
    status: int
    revision: int | None  # after a success
    state: str | None


def _act(client: httpx.Client, slug: str, action: str, revision: int) -> httpx.Response:
    if action == "revise":
        return client.post(f"/v1/articles/{slug}/versions", json={"expected_revision": revision})
    body: dict[str, object] = {"action": action, "expected_revision": revision}
    if action == "comment":
        body["body"] = f"comment at revision {revision}"
    elif action == "request_changes":
        body["reason"] = "please look again"
    return client.post(f"/v1/articles/{slug}/review", json=body)


def _staff_loop(base: str, token: str, role: str, slugs: list[str], seed: int, deadline: float,
                writes: list[Write], statuses: Counter) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
        me = client.get("/v1/auth/me").json()["user"]["username"]
        held: str | None = None  # the article this reviewer just claimed: looked at again next, to decide on it
        for loop in range(MAX_LOOPS):
            if time.monotonic() > deadline and loop >= MIN_LOOPS:
                return
            slug, held = held or rng.choice(slugs), None
            read = client.get(f"/v1/articles/{slug}")
            statuses[read.status_code] += 1
            review = read.json()["review"]
            holder = role == "reviewer" and review["state"] == "under_review" and review["claimed_by"] == me
            action = rng.choice(HOLDER_CHOICES if holder else CHOICES[(role, review["state"])])
            response = _act(client, slug, action, review["revision"])
            statuses[response.status_code] += 1
            after = response.json()
            if response.status_code == 409:
                assert after["type"] == "/problems/conflict" and after["current"]["revision"] > review["revision"]
            writes.append(Write(slug, action, review["revision"], response.status_code,
                                after.get("revision"), after.get("state")))
            if action == "claim" and response.status_code == 200:
                held = slug


def _reader_loop(base: str, seed: int, deadline: float, statuses: Counter, answered: Counter) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=60) as client:
        for i in range(MAX_LOOPS):
            if time.monotonic() > deadline:
                return
            question = {"question": rng.choice(ASKED)}
            if i % 3 == 2:
                with client.stream("POST", "/v1/ask/stream", json=question) as response:
                    statuses[response.status_code] += 1
                    text = "".join(response.iter_text())
                    answered["stream ok" if "event: answer" in text and "event: done" in text else "stream bad"] += 1
            else:
                response = client.post("/v1/ask", json=question)
                statuses[response.status_code] += 1
                answered[response.json().get("status", "no status")] += 1
            statuses[client.get("/v1/articles").status_code] += 1


def _staff_tokens(path, role: str, n: int) -> list[str]:
    with SQLiteStore(path) as store:
        accounts = Accounts(store)
        users = [accounts.create_user(SYSTEM, f"{role}-{i}", f"{role} {i}", role) for i in range(n)]
        return [accounts.create_token(SYSTEM, u.id, "soak", sorted(ROLE_SCOPES[role])).secret for u in users]


def test_twenty_clients_asking_and_reviewing_lose_no_update(api_library, caplog):
    caplog.set_level(logging.ERROR, logger="medora.api")
    editors, reviewers = _staff_tokens(api_library.path, "editor", 7), _staff_tokens(api_library.path, "reviewer", 7)
    app = create_app(Settings(library=api_library.path), ApiSettings(rate_per_second=0))
    writes: list[Write] = []
    statuses: Counter = Counter()
    answered: Counter = Counter()
    with serving(app) as base:
        with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {editors[0]}"}) as setup:
            slugs = [setup.post("/v1/articles", json={"question": q}).json()["slug"] for q in QUESTIONS]
        deadline = time.monotonic() + SECONDS
        threads = [threading.Thread(target=_staff_loop, args=(base, token, role, slugs, n, deadline, writes, statuses))
                   for n, (role, token) in enumerate([("editor", t) for t in editors] +
                                                     [("reviewer", t) for t in reviewers])]
        threads += [threading.Thread(target=_reader_loop, args=(base, 100 + n, deadline, statuses, answered))
                    for n in range(6)]
        errors: list[BaseException] = []

        def guarded(thread: threading.Thread) -> None:
            try:
                thread.run()
            except BaseException as exc:  # noqa: BLE001 - reported below, with the others
                errors.append(exc)

        runners = [threading.Thread(target=guarded, args=(t,)) for t in threads]
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join(timeout=SECONDS + 120)
        assert not errors, errors[:3]
        assert not any(r.is_alive() for r in runners)

        with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {editors[0]}"}) as check:
            finals = {s: check.get(f"/v1/articles/{s}").json()["review"] for s in slugs}
            histories = {s: check.get(f"/v1/articles/{s}/history").json() for s in slugs}
            comments = {s: check.get(f"/v1/articles/{s}/comments").json() for s in slugs}

    assert set(statuses) <= {200, 409}, statuses
    assert answered["stream bad"] == 0 and answered["answered"] > 0, answered
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    succeeded = [w for w in writes if w.status == 200]
    assert len(succeeded) >= 20 and any(w.status == 409 for w in writes), Counter(w.status for w in writes)
    assert {w.action for w in succeeded} >= {"submit", "claim", "comment", "approve", "request_changes", "revise"}

    for slug in slugs:
        done = sorted((w for w in succeeded if w.slug == slug), key=lambda w: w.expected)
        # No lost update: the successful writes form one chain of revisions 1 → 2 → … → final.
        assert [w.expected for w in done] == list(range(1, len(done) + 1))
        assert all(w.revision == w.expected + 1 for w in done)
        assert finals[slug]["revision"] == len(done) + 1
        assert len(comments[slug]) == sum(w.action == "comment" for w in done)
        # The audit log replays exactly those writes, each starting where the previous one ended.
        entries = histories[slug]
        assert [e["action"] for e in entries] == ["create"] + [w.action for w in done]
        assert all(e["to_state"] == w.state for e, w in zip(entries[1:], done, strict=True))
        assert all(a["to_state"] == b["from_state"] for a, b in zip(entries, entries[1:], strict=False))
        assert entries[-1]["to_state"] == finals[slug]["state"]
        assert finals[slug]["current_version"] == 1 + sum(w.action == "revise" for w in done)
