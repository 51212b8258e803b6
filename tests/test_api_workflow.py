"""Acceptance: the whole editorial workflow over HTTP, with real users, tokens and a changing source.

ask → save → submit → claim → comment → request changes → new version → approve → the public
sees it approved, with reviewer and date → a cited label changes on re-ingestion → the article is
back under review with the reason. Also: answers streamed as Server-Sent Events, and optimistic
concurrency (an old revision is a 409 problem carrying the article as it is now).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

from test_api_common import (
    LIST_SENTENCE,
    PASSWORD,
    QUESTION,
    assert_problem,
    make_client,
)

pytest_plugins = ("test_api_common",)  # its fixtures: template_library, api_library


def statements(answer: dict) -> list[dict]:
    return [*answer["bottom_line"], *(s for section in answer["sections"] for s in section["statements"])]


def without_one_statement(answer: dict) -> tuple[dict, str]:
    """A copy of ``answer`` less the last statement of a section that keeps others; and that statement's text."""
    edited = copy.deepcopy(answer)
    section = next(s for s in reversed(edited["sections"]) if len(s["statements"]) > 1
                   and s["statements"][-1]["text"] != LIST_SENTENCE)
    return edited, section["statements"].pop()["text"]


def test_the_whole_review_workflow_over_http(api_library):
    lib = api_library
    with make_client(lib) as client:
        login = client.post("/v1/auth/login", json={"username": "editor1", "password": PASSWORD})
        assert login.status_code == 200 and login.json()["user"]["role"] == "editor"
        editor = {"Authorization": f"Bearer {login.json()['token']}"}  # a login token
        reviewer, admin = lib.auth("reviewer"), lib.auth("admin")  # API tokens

        def act(headers: dict, action: str, revision: int, **fields: object) -> dict:
            response = client.post(f"/v1/articles/{slug}/review", headers=headers,
                                   json={"action": action, "expected_revision": revision, **fields})
            assert response.status_code == 200, response.text
            return response.json()

        answer = client.post("/v1/ask", json={"question": QUESTION}).json()  # anonymous may ask
        assert answer["status"] == "answered" and any(r["title"].startswith("LIPITOR") for r in answer["references"])

        created = client.post("/v1/articles", json={"answer": answer}, headers=editor)
        assert created.status_code == 201, created.text
        article = created.json()
        slug = article["slug"]
        assert created.headers["location"] == f"/v1/articles/{slug}"
        assert (article["state"], article["revision"], article["created_by"]) == ("draft", 1, "editor1")
        assert client.get("/v1/articles").json()["total"] == 0
        assert_problem(client.get(f"/v1/articles/{slug}"), 404, "not-found")

        article = act(editor, "submit", article["revision"])
        article = act(reviewer, "claim", article["revision"])
        assert (article["state"], article["claimed_by"]) == ("under_review", "reviewer1")
        article = act(reviewer, "comment", article["revision"], body="Is s2 the right rate?", statement_id="s2")
        article = act(reviewer, "request_changes", article["revision"], reason="Drop one duplicate bullet.")
        assert (article["state"], article["state_reason"]) == ("changes_requested", "Drop one duplicate bullet.")

        second, dropped = without_one_statement(answer)
        revised = client.post(f"/v1/articles/{slug}/versions", headers=editor,
                              json={"expected_revision": article["revision"], "answer": second})
        assert revised.status_code == 200, revised.text
        article = revised.json()
        assert (article["state"], article["current_version"]) == ("draft", 2)
        diff = client.get(f"/v1/articles/{slug}/diff", params={"from": 1, "to": 2}, headers=reviewer).json()
        assert [(e["change"], e["old"]["text"]) for e in diff["entries"]] == [("removed", dropped)]
        assert diff["unchanged"] == len(statements(answer)) - 1

        article = act(editor, "submit", article["revision"])
        article = act(reviewer, "claim", article["revision"])
        article = act(reviewer, "approve", article["revision"])
        assert (article["state"], article["approved_version"], article["approved_by"]) == ("approved", 2, "reviewer1")

        public = client.get(f"/v1/articles/{slug}")  # anonymous
        assert public.status_code == 200
        view = public.json()
        assert (view["state"], view["approved_by"], view["version"]["version"], view["review"]) == \
            ("approved", "reviewer1", 2, None)
        assert datetime.fromisoformat(view["approved_at"]).date() == datetime.now(UTC).date()
        assert dropped not in [s["text"] for s in statements(view["version"]["answer"])]
        listing = client.get("/v1/articles").json()
        assert (listing["total"], listing["items"][0]["slug"], listing["items"][0]["approved_by"]) == \
            (1, slug, "reviewer1")
        assert listing["items"][0]["revision"] is None  # staff fields stay hidden

        comments = client.get(f"/v1/articles/{slug}/comments", headers=reviewer).json()
        assert [(c["author"], c["statement_id"], c["version"]) for c in comments] == [("reviewer1", "s2", 1)]
        history = client.get(f"/v1/articles/{slug}/history", headers=admin).json()
        assert [(e["action"], e["actor"]) for e in history] == [
            ("create", "editor1"), ("submit", "editor1"), ("claim", "reviewer1"), ("comment", "reviewer1"),
            ("request_changes", "reviewer1"), ("revise", "editor1"), ("submit", "editor1"), ("claim", "reviewer1"),
            ("approve", "reviewer1")]
        assert all(e["client"] == "testclient" for e in history)

        # A cited label changes and is ingested again (by another process, in effect) while the server runs.
        label = lib.sources / "lipitor-orig.xml"
        label.write_text(label.read_text(encoding="utf-8").replace(
            LIST_SENTENCE, "Ask your doctor or pharmacist for a full list."), encoding="utf-8")
        assert len(lib.reingest_labels("lipitor-orig.xml").changed_document_ids) == 1

        staff = client.get(f"/v1/articles/{slug}", headers=reviewer).json()["review"]
        assert (staff["state"], staff["claimed_by"]) == ("under_review", None)
        reason = staff["state_reason"]
        assert reason.startswith("source 'LIPITOR") and "changed (version 1 → 2)" in reason
        public = client.get(f"/v1/articles/{slug}").json()
        assert (public["state"], public["version"]["version"], public["approved_by"]) == \
            ("under_review", 2, "reviewer1")
        assert "state_reason" not in json.dumps(public)  # reasons stay internal
        queue = client.get("/v1/review/queue", headers=reviewer).json()
        assert [(a["slug"], a["state"]) for a in queue["items"]] == [(slug, "under_review")]
        last = client.get(f"/v1/articles/{slug}/history", headers=admin).json()[-1]
        assert (last["action"], last["actor"], last["from_state"], last["to_state"]) == \
            ("reopen", "system", "approved", "under_review")


def test_an_old_revision_or_a_wrong_state_is_a_409_problem_with_the_current_article(api_library):
    lib = api_library
    with make_client(lib) as client:
        created = client.post("/v1/articles", json={"question": QUESTION}, headers=lib.auth("editor")).json()
        slug = created["slug"]
        review = f"/v1/articles/{slug}/review"
        submitted = client.post(review, json={"action": "submit", "expected_revision": 1},
                                headers=lib.auth("editor")).json()
        stale = client.post(review, json={"action": "claim", "expected_revision": 1}, headers=lib.auth("reviewer"))
        body = assert_problem(stale, 409, "conflict")
        assert (body["current"]["revision"], body["current"]["state"]) == (submitted["revision"], "submitted")
        assert "revision 2, not 1" in body["detail"]

        early = client.post(review, json={"action": "approve", "expected_revision": submitted["revision"]},
                            headers=lib.auth("reviewer"))
        body = assert_problem(early, 409, "invalid-transition")
        assert body["current"]["state"] == "submitted"
        assert body["detail"] == "cannot approve an article that is submitted"

        again = client.post("/v1/articles", json={"question": QUESTION.upper()}, headers=lib.auth("editor"))
        assert assert_problem(again, 409, "conflict")["current"]["slug"] == slug
        after = client.get(f"/v1/articles/{slug}", headers=lib.auth("admin")).json()["review"]
        assert (after["state"], after["revision"]) == ("submitted", submitted["revision"])


def test_answers_stream_as_server_sent_events(api_library):
    with make_client(api_library) as client:
        plain = client.post("/v1/ask", json={"question": QUESTION}).json()
        for kwargs in ({"url": "/v1/ask", "headers": {"Accept": "text/event-stream"}}, {"url": "/v1/ask/stream"}):
            with client.stream("POST", json={"question": QUESTION}, **kwargs) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                raw = "".join(response.iter_text())
            events = [block.split("\n") for block in raw.strip().split("\n\n")]
            names = [lines[0].removeprefix("event: ") for lines in events]
            data = [json.loads(lines[1].removeprefix("data: ")) for lines in events]
            assert names == ["stage", "stage", "stage", "answer", "done"]
            assert [d["stage"] for d in data[:3]] == ["understand", "retrieve", "compose"]
            assert data[1]["passages"] > 0 and data[2]["status"] == "answered"
            streamed = data[3]
            assert streamed["schema"] == "medora.answer/1"
            assert statements(streamed) == statements(plain) and streamed["references"] == plain["references"]
