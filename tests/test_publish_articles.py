"""Publishing and review on a real library of FDA drug labels: articles, versions, audience variants,
the transition table (exhaustively), reviewer edits, diffs, optimistic concurrency and staleness."""

from __future__ import annotations

import itertools
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from medora.answer.compose import answer_question
from medora.library.ingest import Ingestor, IngestReport
from medora.library.sqlite_store import SQLiteStore
from medora.models import Answer, Citation, Source
from medora.publish import (
    SYSTEM,
    Accounts,
    Actor,
    PublishingService,
    mark_stale_for_documents,
    workflow,
)
from medora.publish.actors import ROLES
from medora.publish import articles
from medora.publish.articles import ArticleState, slugify
from medora.publish.database import transaction
from medora.publish.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    Unauthenticated,
)
from medora.settings import load_settings
from medora.sources.readers.registry import make_reader

QUESTION = "What are the side effects of atorvastatin?"
LABELS = ("lipitor-orig.xml", "viagra.xml", "cough.xml")
LIST_SENTENCE = "Ask your doctor or pharmacist for a complete list."


@dataclass
class Lib:
    path: Path
    sources: Path
    store: SQLiteStore
    svc: PublishingService
    users: dict[str, Actor]

    def ingest(self, files: tuple[str, ...] = LABELS, prune: bool = False) -> IngestReport:
        plan = [(self.sources / name, make_reader("spl")) for name in files]
        return Ingestor(self.store, Source(name="dailymed")).run(plan, prune=prune)

    def answer(self, question: str = QUESTION, audience: str = "clinician") -> Answer:
        return answer_question(self.store, question, load_settings(library=self.path), audience=audience)

    def doc_id(self, external_title_start: str) -> int:
        return self.store.db.execute("SELECT id FROM documents WHERE title LIKE ?",
                                     (external_title_start + "%",)).fetchone()[0]

    def under_review(self, answer: Answer | None = None) -> ArticleState:
        editor, reviewer = self.users["editor"], self.users["reviewer"]
        art = self.svc.create(answer or self.answer(), editor)
        art = self.svc.submit(art.slug, editor, art.revision)
        return self.svc.claim(art.slug, reviewer, art.revision)


@pytest.fixture
def lib(tmp_path, shared_sources) -> Lib:
    sources = tmp_path / "sources"
    sources.mkdir()
    for name in LABELS:  # copies, so a test can change a label and ingest it again
        shutil.copy(shared_sources / "dailymed-spl" / name, sources / name)
    store = SQLiteStore(tmp_path / "lib.db")
    accounts = Accounts(store)
    users = {role: accounts.create_user(SYSTEM, f"{role}1", role.title(), role).actor("192.0.2.7")
             for role in ("reader", "reviewer", "editor", "admin")}
    users["anonymous"] = Actor.anonymous()
    users["system"] = SYSTEM
    lib = Lib(tmp_path / "lib.db", sources, store, PublishingService(store), users)
    assert lib.ingest().added == 3
    yield lib
    store.close()


# ------------------------------------------------------------------------ the transition table

# The editorial policy, written out independently of the code. One line per allowed
# (state, action): the state it leads to and every role that may take it. Anything else is refused.
POLICY = """
new                create           draft              editor admin
draft              submit           submitted          editor admin
changes_requested  submit           submitted          editor admin
submitted          claim            under_review       reviewer admin
under_review       claim            under_review       reviewer admin
draft              comment          draft              reviewer editor admin
submitted          comment          submitted          reviewer editor admin
under_review       comment          under_review       reviewer editor admin
changes_requested  comment          changes_requested  reviewer editor admin
approved           comment          approved           reviewer editor admin
rejected           comment          rejected           reviewer editor admin
draft              edit             draft              editor admin
changes_requested  edit             changes_requested  editor admin
under_review       edit             under_review       reviewer editor admin
under_review       request_changes  changes_requested  reviewer admin
under_review       approve          approved           reviewer admin
under_review       reject           rejected           reviewer admin
submitted          reject           rejected           editor admin
draft              retire           retired            editor admin
submitted          retire           retired            editor admin
under_review       retire           retired            editor admin
changes_requested  retire           retired            editor admin
approved           retire           retired            editor admin
rejected           retire           retired            editor admin
draft              revise           draft              editor admin
submitted          revise           draft              editor admin
changes_requested  revise           draft              editor admin
approved           revise           draft              editor admin
rejected           revise           draft              editor admin
retired            revise           draft              editor admin
approved           reopen           under_review       system editor admin
under_review       reopen           under_review       system
rejected           reopen           under_review       editor admin
"""
EXPECTED = {(s, a): (new, set(roles)) for s, a, new, *roles in (line.split() for line in POLICY.strip().splitlines())}
ALL_STATES = ["new", "draft", "submitted", "under_review", "changes_requested", "approved", "rejected", "retired"]
ALL_ACTIONS = sorted({a for _, a in EXPECTED})
ALL_ROLES = ["anonymous", "reader", "reviewer", "editor", "admin", "system"]


def expected_outcome(state: str, action: str, role: str) -> str | type[Exception]:
    """The new state, or the error class the policy says the attempt gets."""
    allowed = EXPECTED.get((state, action))
    if allowed and role in allowed[1]:
        return allowed[0]
    if role == "anonymous":
        return Unauthenticated
    ever = any(role in roles for (_, a), (_, roles) in EXPECTED.items() if a == action)
    if ever and allowed is None:
        return InvalidTransition
    return Forbidden


def test_code_knows_exactly_the_policy_states_actions_and_roles():
    assert set(workflow.STATES) | {"new"} == set(ALL_STATES)
    assert set(workflow.ACTIONS) == set(ALL_ACTIONS)
    assert set(ROLES) == set(ALL_ROLES)


@pytest.mark.parametrize("state,action,role", list(itertools.product(ALL_STATES, ALL_ACTIONS, ALL_ROLES)))
def test_authorize_matches_the_policy(state, action, role):
    expected = expected_outcome(state, action, role)
    if isinstance(expected, str):
        assert workflow.authorize(state, action, role) == expected
    else:
        with pytest.raises(expected):
            workflow.authorize(state, action, role)


def _perform(lib: Lib, action: str, slug: str, actor: Actor, revision: int, answer: Answer) -> ArticleState:
    svc = lib.svc
    if action in ("submit", "claim", "approve"):
        return getattr(svc, action)(slug, actor, revision)
    if action in ("request_changes", "reject", "reopen", "retire"):
        return getattr(svc, action)(slug, actor, revision, f"{action} for the test")
    if action == "comment":
        return svc.comment(slug, actor, revision, "Checked against the label.", statement_id="s1")
    if action == "edit":
        return svc.add_note(slug, actor, revision, "bottom_line", 0, "Check renal function first.")
    assert action == "revise"
    return svc.revise(slug, answer, actor, revision)


def test_every_state_action_role_through_the_service(lib):
    """All 7 stored states x 10 actions x 6 roles: allowed ones change the state as the policy says and are
    audited; refused ones change nothing (same revision, no audit entry)."""
    answer = lib.answer()
    admin = lib.users["admin"]
    slug = lib.svc.create(answer, lib.users["editor"]).slug
    checked = 0
    for state, action, role in itertools.product(workflow.STATES, ALL_ACTIONS, ALL_ROLES):
        if action == "create":
            continue
        lib.store.db.execute("UPDATE articles SET state = ? WHERE slug = ?", (state, slug))
        before = lib.svc.get(slug, admin)
        audit_before = len(lib.svc.history(slug, admin))
        expected = expected_outcome(state, action, role)
        if action == "approve" and isinstance(expected, str):  # four eyes: the approver holds the claim...
            actor = lib.users[role]
            lib.store.db.execute("UPDATE articles SET claimed_by = ? WHERE slug = ?", (actor.user_id, slug))
            before = lib.svc.get(slug, admin)
            with transaction(lib.store, write=False) as db:  # ...and wrote no part of the version
                if actor.username in articles.authors(db, before.id, before.current_version):
                    expected = Forbidden
        if isinstance(expected, str):
            after = _perform(lib, action, slug, lib.users[role], before.revision, answer)
            assert (after.state, after.revision) == (expected, before.revision + 1), (state, action, role)
            last = lib.svc.history(slug, admin)[-1]
            assert (last.actor_role, last.from_state, last.to_state) == (role, state, expected)
        else:
            with pytest.raises(expected):
                _perform(lib, action, slug, lib.users[role], before.revision, answer)
            assert lib.svc.get(slug, admin).revision == before.revision, (state, action, role)
            assert len(lib.svc.history(slug, admin)) == audit_before
        checked += 1
    assert checked == 7 * 10 * 6


# How the approver took part in the current version, and whether approval is then refused (four eyes).
PARTS = ("none", "created", "revised", "variant", "note", "added_statement", "removed", "moved", "commented")


@pytest.mark.parametrize("approver,part,claim", [
    (a, p, c) for a, p, c in itertools.product(("reviewer", "admin"), PARTS, ("self", "other", "nobody"))
    if not (a == "reviewer" and p in ("created", "revised"))])  # only editors and admins write versions
def test_four_eyes_only_the_claim_holder_who_wrote_nothing_of_the_version_approves(lib, approver, part, claim):
    editor, actor = lib.users["editor"], lib.users[approver]
    other = lib.users["admin" if approver == "reviewer" else "reviewer"]
    author = actor if part in ("created", "revised") else editor
    art = lib.svc.create(lib.answer(), author if part == "created" else editor)
    if part == "revised":
        art = lib.svc.revise(art.slug, lib.answer(), author, art.revision)
    art = lib.svc.submit(art.slug, editor, art.revision)
    art = lib.svc.claim(art.slug, actor, art.revision)
    s1 = "s1"
    if part == "variant":
        art = lib.svc.add_variant(art.slug, lib.answer(audience="patient"), actor, art.revision)
    elif part == "note":
        art = lib.svc.add_note(art.slug, actor, art.revision, "bottom_line", 0, "Check renal function first.")
    elif part == "added_statement":
        cite = lib.svc.version(art.slug, editor).answer.statements()[-1].citations[0]
        art = lib.svc.add_statement(art.slug, actor, art.revision, "bottom_line", 0, cite.passage_id, cite.start,
                                    cite.end, cite.quote)
    elif part == "removed":
        art = lib.svc.remove_statement(art.slug, actor, art.revision, s1)
    elif part == "moved":
        art = lib.svc.move_statement(art.slug, actor, art.revision, lib.svc.version(art.slug, editor)
                                     .answer.sections[0].statements[-1].id, 0)
    elif part == "commented":
        art = lib.svc.comment(art.slug, actor, art.revision, "Looks right.")
    if claim == "other":
        art = lib.svc.claim(art.slug, other, art.revision)
        assert lib.svc.history(art.slug, editor)[-1].detail == {"took_over_from": actor.username}
    elif claim == "nobody":
        lib.store.db.execute("UPDATE articles SET claimed_by = NULL WHERE slug = ?", (art.slug,))
    allowed = claim == "self" and part in ("none", "commented")
    if allowed:
        assert lib.svc.approve(art.slug, actor, art.revision).state == "approved"
        return
    with pytest.raises(Forbidden, match="four eyes" if claim == "self" else "claim"):
        lib.svc.approve(art.slug, actor, art.revision)
    after = lib.svc.get(art.slug, editor)
    assert (after.state, after.approved_version) == ("under_review", None)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_create_is_allowed_per_the_policy(lib, role):
    answer = lib.answer()
    expected = expected_outcome("new", "create", role)
    if isinstance(expected, str):
        assert lib.svc.create(answer, lib.users[role]).state == expected
    else:
        with pytest.raises(expected):
            lib.svc.create(answer, lib.users[role])


# ------------------------------------------------------------------------ the whole workflow


def test_whole_workflow_from_draft_to_retired(lib):
    editor, reviewer, reader = lib.users["editor"], lib.users["reviewer"], lib.users["reader"]
    svc = lib.svc
    art = svc.create(lib.answer(), editor)
    assert (art.state, art.current_version, art.revision, art.created_by) == ("draft", 1, 1, "editor1")
    with pytest.raises(NotFound):
        svc.published(art.slug)  # nothing approved yet
    with pytest.raises(Forbidden):
        svc.get(art.slug, reader)  # drafts are for staff

    art = svc.submit(art.slug, editor, art.revision)
    art = svc.claim(art.slug, reviewer, art.revision)
    assert (art.state, art.claimed_by) == ("under_review", "reviewer1")
    art = svc.comment(art.slug, reviewer, art.revision, "The bottom line should lead with muscle pain.", "s1")
    art = svc.request_changes(art.slug, reviewer, art.revision, "Lead with the most common effects.")
    assert (art.state, art.state_reason) == ("changes_requested", "Lead with the most common effects.")

    art = svc.revise(art.slug, lib.answer(), editor, art.revision)
    assert (art.state, art.current_version) == ("draft", 2)
    art = svc.submit(art.slug, editor, art.revision)
    art = svc.claim(art.slug, reviewer, art.revision)
    art = svc.approve(art.slug, reviewer, art.revision)
    assert (art.state, art.approved_version, art.approved_by, art.state_reason) == ("approved", 2, "reviewer1", None)
    assert art.approved_at is not None and art.approved_at >= art.created_at

    published = svc.published(art.slug)
    assert (published.version.version, published.approved_by) == (2, "reviewer1")
    assert [s.text for s in published.version.answer.statements()] == \
        [s.text for s in svc.version(art.slug, editor, 2).answer.statements()]

    art = svc.revise(art.slug, lib.answer(), editor, art.revision)  # a new draft does not unpublish version 2
    assert (art.state, art.current_version, svc.published(art.slug).version.version) == ("draft", 3, 2)
    art = svc.retire(art.slug, editor, art.revision, "Superseded by the statin overview.")
    assert art.state == "retired"
    with pytest.raises(NotFound):
        svc.published(art.slug)

    history = svc.history(art.slug, editor)
    assert [e.action for e in history] == ["create", "submit", "claim", "comment", "request_changes", "revise",
                                           "submit", "claim", "approve", "revise", "retire"]
    assert [e.version for e in history][-3:] == [2, 3, 3]
    assert history[0].client == "192.0.2.7" and history[-1].detail["reason"].startswith("Superseded")
    comments = svc.comments(art.slug, reviewer)
    assert [(c.version, c.statement_id, c.author) for c in comments] == [(1, "s1", "reviewer1")]


def test_stale_revision_is_a_conflict_carrying_the_current_article(lib):
    art = lib.under_review()
    reviewer, admin = lib.users["reviewer"], lib.users["admin"]
    lib.svc.comment(art.slug, admin, art.revision, "Please double-check s2.")
    with pytest.raises(Conflict) as caught:
        lib.svc.approve(art.slug, reviewer, art.revision)
    assert caught.value.http_status == 409
    assert (caught.value.current.revision, caught.value.current.state) == (art.revision + 1, "under_review")
    assert lib.svc.get(art.slug, admin).approved_version is None


def exactly_one_of_two_racing_writers_wins(lib, other) -> None:
    """Two services (on ``lib.store`` and ``other``) race actions on one article revision: one wins, one is
    refused with the current state. Used for both backends (``lib``: svc, store, users, under_review)."""
    art = lib.under_review()
    services = [lib.svc, PublishingService(other)]
    reviewer, admin = lib.users["reviewer"], lib.users["admin"]

    def race(act0, act1) -> list[object]:
        barrier, results = threading.Barrier(2), [None, None]
        revision = lib.svc.get(art.slug, admin).revision

        def run(i, act):
            barrier.wait()
            try:
                results[i] = act(services[i], revision)
            except Conflict as exc:
                results[i] = exc

        threads = [threading.Thread(target=run, args=(i, act)) for i, act in enumerate((act0, act1))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        return results

    for round_ in range(8):
        results = race(lambda s, r, n=round_: s.comment(art.slug, reviewer, r, f"reviewer, round {n}"),
                       lambda s, r, n=round_: s.comment(art.slug, admin, r, f"admin, round {n}"))
        assert sorted(type(r).__name__ for r in results) == ["ArticleState", "Conflict"]
    assert len(lib.svc.comments(art.slug, admin)) == 8

    results = race(lambda s, r: s.approve(art.slug, reviewer, r),
                   lambda s, r: s.request_changes(art.slug, admin, r, "Not yet."))
    won = next(r for r in results if isinstance(r, ArticleState))
    lost = next(r for r in results if isinstance(r, Conflict))
    final = lib.svc.get(art.slug, admin)
    assert final.state == won.state == lost.current.state and final.state in ("approved", "changes_requested")
    assert [e.action for e in lib.svc.history(art.slug, admin)][-1] in ("approve", "request_changes")
    assert sum(e.to_state != "under_review" for e in lib.svc.history(art.slug, admin)[3:]) == 1


@pytest.mark.parametrize("shared_connection", [False, True], ids=["two connections", "one shared connection"])
def test_concurrent_writers_on_one_revision_exactly_one_wins(lib, shared_connection):
    other = lib.store if shared_connection else SQLiteStore(lib.path)
    exactly_one_of_two_racing_writers_wins(lib, other)
    if not shared_connection:
        other.close()


# ------------------------------------------------------------------------ articles and versions


def test_slugs_are_lowercase_ascii_hyphenated_and_bounded():
    assert slugify(QUESTION) == "what-are-the-side-effects-of-atorvastatin"
    assert slugify("Café-au-lait spots: what causes them?") == "cafe-au-lait-spots-what-causes-them"
    assert slugify("¿¿??") == "article"
    long = slugify("Can I take atorvastatin together with grapefruit juice " * 4)
    assert len(long) <= 80 and not long.endswith("-") and long.startswith("can-i-take-atorvastatin-together")
    assert ("Can I take atorvastatin together with grapefruit juice " * 4).lower().replace(" ", "-") \
        .startswith(long + "-")


def test_same_question_is_one_article_and_colliding_slugs_are_numbered(lib):
    editor = lib.users["editor"]
    answer = lib.answer()
    first = lib.svc.create(answer, editor)
    with pytest.raises(Conflict) as caught:
        lib.svc.create(answer.model_copy(update={"question": "  what are the side effects of ATORVASTATIN ", "title": "  what are the side effects of ATORVASTATIN "}), editor)
    assert caught.value.current.slug == first.slug
    second = lib.svc.create(answer.model_copy(update={"question": "What are the side-effects of atorvastatin?", "title": "What are the side-effects of atorvastatin?"}),
                            editor)
    third = lib.svc.create(answer.model_copy(update={"question": "What are the side effects of atorvastatín?", "title": "What are the side effects of atorvastatín?"}),
                           editor)
    assert [first.slug, second.slug, third.slug] == [
        "what-are-the-side-effects-of-atorvastatin",
        "what-are-the-side-effects-of-atorvastatin-2",
        "what-are-the-side-effects-of-atorvastatin-3",
    ]
    revised = lib.svc.revise(first.slug, lib.answer(), editor, first.revision)
    assert revised.slug == first.slug and revised.current_version == 2


def test_versions_keep_the_answer_its_author_and_cited_document_versions(lib):
    editor = lib.users["editor"]
    answer = lib.answer()
    assert answer.status == "answered"
    art = lib.svc.create(answer, editor)
    v1 = lib.svc.version(art.slug, editor)
    assert (v1.version, v1.audience, v1.created_by) == (1, "clinician", "editor1")
    assert [s.text for s in v1.answer.statements()] == [s.text for s in answer.statements()]
    assert [s.id for s in v1.answer.statements()] == [f"s{i}" for i in range(1, len(answer.statements()) + 1)]
    cited = sorted({c.document_id for s in answer.statements() for c in s.citations})
    assert [(s.document_id, s.version) for s in v1.sources] == [(d, 1) for d in cited]

    lib.ingest(("viagra.xml",))  # unchanged file: no new document versions
    (lib.sources / "lipitor-orig.xml").write_text(
        (lib.sources / "lipitor-orig.xml").read_text(encoding="utf-8").replace(LIST_SENTENCE, LIST_SENTENCE[:-1]
                                                                                + " of side effects."),
        encoding="utf-8")
    assert lib.ingest(("lipitor-orig.xml",)).changed_document_ids == [lib.doc_id("LIPITOR")]
    art = lib.svc.revise(art.slug, lib.answer(), editor, art.revision)
    v2 = lib.svc.version(art.slug, editor)
    assert {s.document_id: s.version for s in v2.sources}[lib.doc_id("LIPITOR")] == 2
    assert lib.svc.version(art.slug, editor, 1).model_dump() == v1.model_dump()  # old versions are kept as they were
    assert art.updated_at >= art.created_at


def test_audience_variants_share_the_review_state_of_their_version(lib):
    editor, reviewer = lib.users["editor"], lib.users["reviewer"]
    art = lib.under_review()
    patient = lib.answer(audience="patient")
    art = lib.svc.add_variant(art.slug, patient, reviewer, art.revision)
    assert art.audiences == ["clinician", "patient"]
    with pytest.raises(InvalidInput, match="already has a patient variant"):
        lib.svc.add_variant(art.slug, patient, reviewer, art.revision)
    with pytest.raises(InvalidInput, match="unknown audience"):
        lib.svc.add_variant(art.slug, patient.model_copy(update={"audience": "martian"}), reviewer, art.revision)
    with pytest.raises(Forbidden, match="four eyes"):  # the reviewer added a variant: not theirs to approve
        lib.svc.approve(art.slug, reviewer, art.revision)
    art = lib.svc.claim(art.slug, lib.users["admin"], art.revision)
    art = lib.svc.approve(art.slug, lib.users["admin"], art.revision)
    for audience in ("clinician", "patient"):
        shown = lib.svc.published(art.slug, audience=audience).version
        assert (shown.version, shown.audience, shown.audiences) == (1, audience, ["clinician", "patient"])
    with pytest.raises(InvalidTransition):  # approved content is not edited in place: revise it
        lib.svc.add_variant(art.slug, lib.answer(audience="student"), editor, art.revision)


def test_a_new_version_must_answer_the_question_and_quote_its_sources(lib):
    editor = lib.users["editor"]
    answer = lib.answer()
    with pytest.raises(InvalidInput, match="only an answered question"):
        lib.svc.create(lib.answer("What is the capital of Mongolia?"), editor)
    forged = answer.model_copy(deep=True)
    citation = forged.sections[0].statements[0].citations[0]
    citation.quote = "Rarely, " + citation.quote
    with pytest.raises(InvalidInput, match="is not the text of passage"):
        lib.svc.create(forged, editor)
    misnumbered = answer.model_copy(deep=True)
    misnumbered.sections[0].statements[0].citations[0].ref = len(answer.references) + 1
    with pytest.raises(InvalidInput, match="which is not document"):
        lib.svc.create(misnumbered, editor)
    art = lib.svc.create(answer, editor)
    with pytest.raises(InvalidInput, match="not to this article's question"):
        lib.svc.revise(art.slug, lib.answer("What are the side effects of sildenafil?"), editor, art.revision)
    assert lib.svc.get(art.slug, editor).revision == art.revision


# ------------------------------------------------------------------------ reviewer edits


def test_reviewer_edits_keep_every_statement_traceable(lib):
    reviewer = lib.users["reviewer"]
    art = lib.under_review()
    svc, slug = lib.svc, art.slug
    before = svc.version(slug, reviewer).answer
    section = before.sections[0]
    ids = [s.id for s in section.statements]

    art = svc.remove_statement(slug, reviewer, art.revision, ids[1])
    art = svc.move_statement(slug, reviewer, art.revision, ids[-1], 0)
    art = svc.add_note(slug, reviewer, art.revision, section.key, 1, "  Report  muscle pain promptly. ")
    cough = lib.store.document_passages(lib.doc_id("TRIAMINIC"))[0]
    start, end = cough.sentences[0]
    art = svc.add_statement(slug, reviewer, art.revision, "bottom_line", 2, cough.id, start, end,
                            cough.text[start:end])

    after = svc.version(slug, reviewer)
    edited = after.answer.sections[0].statements
    assert [s.id for s in edited] == [ids[-1], "s" + str(len(before.statements()) + 1), ids[0], *ids[2:-1]]
    note = edited[1]
    assert (note.kind, note.text, note.citations, note.added_by) == ("reviewer_note", "Report muscle pain promptly.",
                                                                     [], "reviewer1")
    added = after.answer.bottom_line[2]
    assert added.added_by == "reviewer1" and added.citations[0].quote == cough.text[start:end]
    ref = next(r for r in after.answer.references if r.number == added.citations[0].ref)
    assert ref.document_id == lib.doc_id("TRIAMINIC") and ref.number == len(before.references) + 1
    assert lib.doc_id("TRIAMINIC") in {s.document_id for s in after.sources}

    log = svc.history(slug, reviewer)[-4:]
    assert [e.action for e in log] == ["remove_statement", "move_statement", "add_note", "add_statement"]
    assert log[0].detail["statement"]["text"] == section.statements[1].text  # what was removed stays on record
    assert log[1].detail["from_index"] == len(ids) - 2 and log[1].detail["to_index"] == 0


@pytest.mark.parametrize("attempt,message", [
    (lambda svc, slug, r, rev, p: svc.add_statement(slug, r, rev, "bottom_line", 0, p.id, 0, 20, p.text[1:21]),
     "is not the text of passage"),
    (lambda svc, slug, r, rev, p: svc.add_statement(slug, r, rev, "bottom_line", 0, p.id, 0, len(p.text) + 5,
                                                    p.text), "is not the text of passage"),
    (lambda svc, slug, r, rev, p: svc.add_statement(slug, r, rev, "bottom_line", 0, 10**9, 0, 5, "hello"),
     "no passage"),
    (lambda svc, slug, r, rev, p: svc.add_statement(slug, r, rev, "no_such_section", 0, p.id, 0, 20, p.text[:20]),
     "no section"),
    (lambda svc, slug, r, rev, p: svc.add_note(slug, r, rev, "bottom_line", 99, "A note."), "outside this section"),
    (lambda svc, slug, r, rev, p: svc.add_note(slug, r, rev, "bottom_line", 0, "   "), "note needs"),
    (lambda svc, slug, r, rev, p: svc.remove_statement(slug, r, rev, "s999"), "no statement"),
    (lambda svc, slug, r, rev, p: svc.move_statement(slug, r, rev, "s1", 5), "outside this section"),
    (lambda svc, slug, r, rev, p: svc.comment(slug, r, rev, "Why?", statement_id="s999"), "no statement"),
], ids=["misquoted", "offsets past the end", "unknown passage", "unknown section", "bad position", "empty note",
        "unknown statement", "move out of section", "comment on unknown statement"])
def test_edits_that_would_break_traceability_are_refused(lib, attempt, message):
    reviewer = lib.users["reviewer"]
    art = lib.under_review()
    passage = lib.store.document_passages(lib.doc_id("LIPITOR"))[3]
    before = lib.svc.version(art.slug, reviewer).answer
    with pytest.raises(InvalidInput, match=message):
        attempt(lib.svc, art.slug, reviewer, art.revision, passage)
    assert lib.svc.get(art.slug, reviewer).revision == art.revision
    assert lib.svc.version(art.slug, reviewer).answer == before


def test_citing_a_retired_document_is_refused(lib):
    reviewer = lib.users["reviewer"]
    art = lib.under_review()
    cough = lib.store.document_passages(lib.doc_id("TRIAMINIC"))[0]
    assert lib.ingest(("lipitor-orig.xml", "viagra.xml"), prune=True).retired == 1
    start, end = cough.sentences[0]
    with pytest.raises(InvalidInput, match="retired"):
        lib.svc.add_statement(art.slug, reviewer, art.revision, "bottom_line", 0, cough.id, start, end,
                              cough.text[start:end])


# ------------------------------------------------------------------------ diffs


def test_diff_reports_added_removed_changed_and_re_cited_statements(lib):
    editor = lib.users["editor"]
    answer = lib.answer()
    art = lib.svc.create(answer, editor)
    new = answer.model_copy(deep=True)
    statements = new.sections[0].statements
    removed = statements.pop(0)
    changed, re_cited = statements[0], statements[1]
    changed.text = changed.text[: len(changed.text) // 2]  # same passage, other text (its quote, shortened)
    half = changed.citations[0]
    changed.citations[0] = half.model_copy(update={"quote": changed.text, "end": half.start + len(changed.text)})
    passage = lib.store.passages([re_cited.citations[0].passage_id])[re_cited.citations[0].passage_id]
    cite = re_cited.citations[0]
    longer = next(b for a, b in passage.sentences if b > cite.end)  # same text, now also citing the next sentence
    re_cited.citations = [cite, Citation(ref=cite.ref, passage_id=cite.passage_id, document_id=cite.document_id,
                                         quote=passage.text[cite.end:longer], start=cite.end, end=longer)]
    other = lib.answer("What is the usual dose of LIPITOR?")
    numbers = {r.document_id: r.number for r in new.references}
    added = next(s for s in other.statements() if s.text not in {t.text for t in answer.statements()}
                 and s.citations[0].document_id in numbers)  # a statement from a source the article already cites
    added.citations[0].ref = numbers[added.citations[0].document_id]
    statements.append(added)
    lib.svc.revise(art.slug, new, editor, art.revision)

    diff = lib.svc.diff(art.slug, editor, 1, 2)
    assert {e.change for e in diff.entries} == {"added", "removed", "changed", "re_cited"}
    assert [e.old.text for e in diff.of("removed")] == [removed.text]
    assert [e.new.text for e in diff.of("added")] == [added.text]
    assert [(e.old.text, e.new.text) for e in diff.of("changed")] == [(answer.sections[0].statements[1].text,
                                                                      changed.text)]
    assert [e.new.citations[-1].end for e in diff.of("re_cited")] == [longer]
    assert diff.unchanged == len(answer.statements()) - 3
    assert lib.svc.diff(art.slug, editor, 1, 1).entries == []


# ------------------------------------------------------------------------ staleness


def _reword_cited_sentence(lib: Lib, answer: Answer) -> tuple[IngestReport, str, str]:
    """Re-word, in the Lipitor label file, a sentence the answer quotes from it (one that stands once in the
    file, as written); returns the re-ingestion report, the old and the new sentence."""
    label = lib.sources / "lipitor-orig.xml"
    text = label.read_text(encoding="utf-8")
    lipitor = lib.doc_id("LIPITOR")
    old = next(st.text for st in answer.statements() if st.citations[0].document_id == lipitor
               and len(st.text.split()) >= 6 and st.text.endswith(".") and text.count(st.text) == 1)
    new = old[:-1] + ", as the label now says."
    label.write_text(text.replace(old, new), encoding="utf-8")
    return lib.ingest(("lipitor-orig.xml",)), old, new


def test_a_changed_source_sends_approved_articles_back_to_review(lib):
    editor, reviewer, admin = lib.users["editor"], lib.users["reviewer"], lib.users["admin"]
    art = lib.under_review()
    assert lib.doc_id("LIPITOR") in {s.document_id for s in lib.svc.version(art.slug, admin).sources}
    art = lib.svc.approve(art.slug, reviewer, art.revision)
    draft = lib.svc.create(lib.answer("What are the common side effects of LIPITOR?"), editor)
    unrelated = lib.under_review(lib.answer("What are the side effects of Triaminic night time cold and cough?"))
    assert lib.doc_id("LIPITOR") in {s.document_id for s in lib.svc.version(draft.slug, admin).sources}
    assert lib.doc_id("LIPITOR") not in {s.document_id for s in lib.svc.version(unrelated.slug, admin).sources}

    report, old_sentence, new_sentence = _reword_cited_sentence(lib, lib.svc.version(art.slug, admin).answer)
    lipitor = lib.doc_id("LIPITOR")
    assert report.changed_document_ids == [lipitor]
    reopened = mark_stale_for_documents(lib.store, report.changed_document_ids, "re-ingested dailymed")
    assert [a.slug for a in reopened] == [art.slug]
    now = lib.svc.get(art.slug, admin)
    assert now.state == "under_review" and now.claimed_by is None and now.revision == art.revision + 1
    assert now.state_reason == ("source 'LIPITOR® (atorvastatin calcium) Tablets for oral administration' changed "
                                "(version 1 → 2) (re-ingested dailymed)")
    entry = lib.svc.history(art.slug, admin)[-1]
    assert (entry.actor, entry.actor_role, entry.action, entry.from_state, entry.to_state) == \
        ("system", "system", "reopen", "approved", "under_review")
    assert entry.detail["sources"] == [{"document_id": lipitor, "cited_version": 1, "current_version": 2,
                                        "retired": False}]
    assert lib.svc.get(draft.slug, admin).state == "draft"  # not yet reviewed: nothing to reopen
    assert lib.svc.get(unrelated.slug, admin).revision == unrelated.revision
    assert lib.svc.published(art.slug).state == "under_review"  # readers can see it is being re-checked
    assert mark_stale_for_documents(lib.store, report.changed_document_ids, "re-ingested dailymed") == []

    # The editor re-answers; the diff shows the re-worded sentence as changed, not as removed + added.
    art = lib.svc.request_changes(art.slug, reviewer, now.revision, "Source changed; re-answer.")
    art = lib.svc.revise(art.slug, lib.answer(), editor, art.revision)
    diff = lib.svc.diff(art.slug, editor, 1, 2)
    assert (new_sentence, old_sentence) in [(e.new.text, e.old.text) for e in diff.of("changed")]
    assert not [e for e in diff.of("removed") if e.old.text == old_sentence]


def test_a_retired_source_reopens_articles_under_review_with_the_reason(lib):
    admin = lib.users["admin"]
    art = lib.under_review()
    cited = {s.document_id for s in lib.svc.version(art.slug, admin).sources}
    lipitor = lib.doc_id("LIPITOR")  # the atorvastatin answer cites the Lipitor label (and, since issue 12, no other drug's)
    assert lipitor in cited
    report = lib.ingest(("viagra.xml", "cough.xml"), prune=True)
    assert report.retired_document_ids == [lipitor]
    assert [a.slug for a in mark_stale_for_documents(lib.store, report.retired_document_ids)] == [art.slug]
    now = lib.svc.get(art.slug, admin)
    assert now.state == "under_review"
    assert now.state_reason == "source 'LIPITOR® (atorvastatin calcium) Tablets for oral administration' retired"
