"""The publishing service: every read and write of articles, shaped for the REST API.

Each write names its ``Actor`` and the article ``revision`` it was based on. Inside one write
transaction (``database.transaction``: one writer at a time, on SQLite or PostgreSQL) it checks
the revision (an old one raises ``Conflict`` carrying the article as it is now), asks
``workflow.authorize`` whether the actor's role may take the action in the current state,
applies the change, moves the article to its next revision and appends to the audit log. Unpublished content is for staff; ``published`` serves anyone the last
approved version. Every method returns pydantic models, ready to serialise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from medora.models import Answer
from medora.publish import articles, audit, edits, staleness, workflow
from medora.publish import comments as review_comments
from medora.publish.actors import SYSTEM, Actor
from medora.publish.articles import ArticleState, ArticleVersion
from medora.publish.audit import AuditEntry
from medora.publish.canonical import check_canonical
from medora.publish.comments import Comment
from medora.publish.content import ArticleAnswer
from medora.publish.database import Db, Store, now, transaction
from medora.publish.diff import StatementDiff, diff_answers
from medora.publish.errors import Conflict, InvalidInput, InvalidTransition, NotFound

MAX_TEXT_CHARS = 4000

# (fields to set on the article, detail for the audit log), from (transaction, article, new state)
Change = Callable[[Db, ArticleState, str], tuple[dict[str, Any], dict[str, Any]]]


class PublishedArticle(BaseModel):
    """What readers see: the last approved version, and the article's state (``under_review``: being re-checked).

    Reasons given in review stay internal: they are for staff, through ``get``.
    """

    slug: str
    title: str
    state: str
    approved_by: str | None = None
    approved_at: str | None = None
    version: ArticleVersion


class PublishingService:
    """Articles of one library. Threads may share it (its transactions take the store's publishing lock)."""

    def __init__(self, store: Store):
        self.store = store

    # ------------------------------------------------------------------ reading

    def get(self, slug: str, actor: Actor) -> ArticleState:
        workflow.check_can_read_unpublished(actor.role)
        with transaction(self.store, write=False) as db:
            return articles.load(db, slug)

    def list_articles(self, actor: Actor, state: str | None = None) -> list[ArticleState]:
        workflow.check_can_read_unpublished(actor.role)
        if state is not None and state not in workflow.STATES:
            raise InvalidInput(f"unknown state {state!r}; choose one of {', '.join(workflow.STATES)}")
        with transaction(self.store, write=False) as db:
            return articles.load_many(db, "WHERE a.state = ?", (state,)) if state else articles.load_many(db)

    def version(self, slug: str, actor: Actor, version: int | None = None,
                audience: str | None = None) -> ArticleVersion:
        """One variant of one version (default: the current version's first variant)."""
        workflow.check_can_read_unpublished(actor.role)
        with transaction(self.store, write=False) as db:
            article = articles.load(db, slug)
            return articles.load_version(db, article, version or article.current_version, audience)

    def diff(self, slug: str, actor: Actor, old: int, new: int, audience: str | None = None) -> StatementDiff:
        """Statements added, removed, changed and re-cited from version ``old`` to ``new`` of one audience."""
        workflow.check_can_read_unpublished(actor.role)
        with transaction(self.store, write=False) as db:
            article = articles.load(db, slug)
            before = articles.variant(db, article.id, old, audience)
            after = articles.variant(db, article.id, new, before.audience)
        entries, unchanged = diff_answers(before, after)
        return StatementDiff(old_version=old, new_version=new, audience=before.audience, unchanged=unchanged,
                             entries=entries)

    def comments(self, slug: str, actor: Actor) -> list[Comment]:
        workflow.check_can_read_unpublished(actor.role)
        with transaction(self.store, write=False) as db:
            return review_comments.for_article(db, articles.load(db, slug).id)

    def history(self, slug: str, actor: Actor) -> list[AuditEntry]:
        workflow.check_can_read_unpublished(actor.role)
        with transaction(self.store, write=False) as db:
            return audit.entries(db, article_id=articles.load(db, slug).id)

    def published(self, slug: str, audience: str | None = None) -> PublishedArticle:
        """The last approved version, for anyone; retired and never-approved articles are not found."""
        with transaction(self.store, write=False) as db:
            article = articles.load(db, slug)
            if article.approved_version is None or article.state == workflow.RETIRED:
                raise NotFound(f"no published article {slug!r}")
            version = articles.load_version(db, article, article.approved_version, audience)
        return PublishedArticle(slug=slug, title=version.answer.title, state=article.state,
                                approved_by=article.approved_by, approved_at=article.approved_at, version=version)

    # ------------------------------------------------------------------ versions

    def create(self, answer: Answer, actor: Actor) -> ArticleState:
        """Save ``answer`` as version 1 of a new draft; ``Conflict`` (with it) if the question has an article."""
        state = workflow.authorize(workflow.NEW, "create", actor.role)
        content = ArticleAnswer.from_answer(answer)
        with transaction(self.store) as db:
            existing = articles.find_by_question(db, answer.question)
            if existing is not None:
                raise Conflict(f"this question already has article '{existing.slug}'; revise it instead", existing)
            self._verify(content)
            slug = articles.insert(db, content, actor, state)
            article = articles.load(db, slug)
            audit.record(db, actor, "create", article_id=article.id, version=1, from_state=workflow.NEW,
                         to_state=article.state, detail={"audience": content.audience})
            return article

    def revise(self, slug: str, answer: Answer, actor: Actor, expected_revision: int) -> ArticleState:
        """Make ``answer`` (a re-answer of the article's question) the next version; it starts as a draft."""
        content = ArticleAnswer.from_answer(answer)

        def change(db: Db, article: ArticleState, state: str) -> tuple[dict, dict]:
            self._check_question(article, content)
            self._verify(content)
            number = article.current_version + 1
            articles.add_version(db, article.id, number, content, actor)
            return ({"current_version": number, "title": content.title, "state_reason": None, "claimed_by": None},
                    {"audience": content.audience, "previous_version": article.current_version})

        return self._write(slug, "revise", actor, expected_revision, change)

    def add_variant(self, slug: str, answer: Answer, actor: Actor, expected_revision: int) -> ArticleState:
        """Add an audience variant to the current version; it shares that version's review state."""
        content = ArticleAnswer.from_answer(answer)

        def change(db: Db, article: ArticleState, state: str) -> tuple[dict, dict]:
            self._check_question(article, content)
            self._verify(content)
            articles.add_variant(db, article.id, article.current_version, content, actor)
            return {}, {"audience": content.audience}

        return self._write(slug, "edit", actor, expected_revision, change, event="add_variant")

    # ------------------------------------------------------------------ review

    def submit(self, slug: str, actor: Actor, expected_revision: int) -> ArticleState:
        return self._write(slug, "submit", actor, expected_revision,
                           lambda db, article, state: ({"claimed_by": None, "state_reason": None}, {}))

    def claim(self, slug: str, actor: Actor, expected_revision: int) -> ArticleState:
        """Claim a submitted article; claiming one another reviewer holds is a take-over, recorded as such."""

        def change(db: Db, article: ArticleState, state: str) -> tuple[dict, dict]:
            taken = article.claimed_by not in (None, actor.username)
            return {"claimed_by": actor.user_id}, ({"took_over_from": article.claimed_by} if taken else {})

        return self._write(slug, "claim", actor, expected_revision, change)

    def comment(self, slug: str, actor: Actor, expected_revision: int, body: str, statement_id: str | None = None,
                audience: str | None = None) -> ArticleState:
        """Comment on the current version as a whole, or on one statement of one audience variant."""
        body = _text(body, "a comment")

        def change(db: Db, article: ArticleState, state: str) -> tuple[dict, dict]:
            answer = articles.variant(db, article.id, article.current_version, audience)
            if statement_id is not None:
                answer.locate(statement_id)
            comment_id = review_comments.add(db, article.id, article.current_version, answer.audience, statement_id,
                                      actor, body)
            return {}, {"comment_id": comment_id, "statement_id": statement_id, "audience": answer.audience,
                        "body": body}

        return self._write(slug, "comment", actor, expected_revision, change)

    def request_changes(self, slug: str, actor: Actor, expected_revision: int, reason: str) -> ArticleState:
        return self._with_reason(slug, "request_changes", actor, expected_revision, reason)

    def reject(self, slug: str, actor: Actor, expected_revision: int, reason: str) -> ArticleState:
        return self._with_reason(slug, "reject", actor, expected_revision, reason)

    def reopen(self, slug: str, actor: Actor, expected_revision: int, reason: str) -> ArticleState:
        return self._with_reason(slug, "reopen", actor, expected_revision, reason, claimed_by=None)

    def retire(self, slug: str, actor: Actor, expected_revision: int, reason: str | None = None) -> ArticleState:
        if reason is None:
            return self._write(slug, "retire", actor, expected_revision,
                               lambda db, article, state: ({"state_reason": None}, {}))
        return self._with_reason(slug, "retire", actor, expected_revision, reason)

    def approve(self, slug: str, actor: Actor, expected_revision: int) -> ArticleState:
        """Approve the current version (all its audience variants), recording the reviewer and the time.

        Four eyes: only the reviewer holding the claim may approve, and not if they created the
        article, made or added to the current version, or edited it (``workflow.check_four_eyes``).
        """

        def change(db: Db, article: ArticleState, state: str) -> tuple[dict, dict]:
            workflow.check_four_eyes(actor.username, article.claimed_by,
                                     articles.authors(db, article.id, article.current_version))
            fields = {"approved_by": actor.user_id, "approved_at": now(), "approved_version": article.current_version,
                      "state_reason": None}
            return fields, {"approved_version": article.current_version}

        return self._write(slug, "approve", actor, expected_revision, change)

    # ------------------------------------------------------------------ edits

    def remove_statement(self, slug: str, actor: Actor, expected_revision: int, statement_id: str,
                         audience: str | None = None) -> ArticleState:
        return self._edit(slug, actor, expected_revision, audience, "remove_statement",
                          lambda answer: edits.remove_statement(answer, statement_id))

    def move_statement(self, slug: str, actor: Actor, expected_revision: int, statement_id: str, position: int,
                       audience: str | None = None) -> ArticleState:
        """Move a statement to ``position`` (0-based) within its own section."""
        return self._edit(slug, actor, expected_revision, audience, "move_statement",
                          lambda answer: edits.move_statement(answer, statement_id, position))

    def add_note(self, slug: str, actor: Actor, expected_revision: int, section: str, position: int, text: str,
                 audience: str | None = None) -> ArticleState:
        return self._edit(slug, actor, expected_revision, audience, "add_note",
                          lambda answer: edits.add_note(answer, section, position, text, actor.username))

    def add_statement(self, slug: str, actor: Actor, expected_revision: int, section: str, position: int,
                      passage_id: int, start: int, end: int, quote: str,
                      audience: str | None = None) -> ArticleState:
        """Add a statement quoting library passage ``passage_id`` at [start:end]; the quote must match exactly."""

        def apply(answer: ArticleAnswer) -> edits.Edit:
            passage = self.store.passages([passage_id]).get(passage_id)
            if passage is None:
                raise InvalidInput(f"no passage {passage_id} in the library")
            document = self.store.documents([passage.document_id])[passage.document_id]
            return edits.add_cited_statement(answer, section, position, passage, document, start, end, quote,
                                             actor.username)

        return self._edit(slug, actor, expected_revision, audience, "add_statement", apply)

    # ------------------------------------------------------------------ staleness

    def mark_stale(self, doc_ids: list[int], reason: str | None = None) -> list[ArticleState]:
        """Send approved and under-review articles citing changed or retired documents (back) to review."""
        reopened = []
        with transaction(self.store) as db:
            for slug, changes in staleness.source_changes(db, doc_ids).items():
                article = articles.load(db, slug)
                try:
                    state = workflow.authorize(article.state, "reopen", SYSTEM.role)
                except InvalidTransition:
                    continue
                text = "; ".join(c.describe() for c in changes) + (f" ({reason})" if reason else "")
                if (article.state, article.state_reason) == (state, text):
                    continue  # already reopened for exactly this
                articles.update(db, article.id, state=state, state_reason=text, claimed_by=None)
                audit.record(db, SYSTEM, "reopen", article_id=article.id, version=article.current_version,
                             from_state=article.state, to_state=state,
                             detail={"reason": text, "sources": [c.as_dict() for c in changes]})
                reopened.append(articles.load(db, slug))
        return reopened

    # ------------------------------------------------------------------ internals

    def _write(self, slug: str, action: str, actor: Actor, expected_revision: int, change: Change, *,
               event: str | None = None) -> ArticleState:
        workflow.check_role(action, actor.role)
        with transaction(self.store) as db:
            article = articles.load(db, slug)
            if article.revision != expected_revision:
                raise Conflict(f"article '{slug}' is at revision {article.revision}, not {expected_revision}; "
                               "reload it and try again", article)
            state = workflow.authorize(article.state, action, actor.role)
            fields, detail = change(db, article, state)
            articles.update(db, article.id, state=state, **fields)
            audit.record(db, actor, event or action, article_id=article.id,
                         version=fields.get("current_version", article.current_version),
                         from_state=article.state, to_state=state, detail=detail)
            return articles.load(db, slug)

    def _with_reason(self, slug: str, action: str, actor: Actor, expected_revision: int, reason: str,
                     **fields: Any) -> ArticleState:
        reason = _text(reason, "a reason")
        return self._write(slug, action, actor, expected_revision,
                           lambda db, article, state: ({"state_reason": reason, **fields}, {"reason": reason}))

    def _edit(self, slug: str, actor: Actor, expected_revision: int, audience: str | None, event: str,
              apply: Callable[[ArticleAnswer], edits.Edit]) -> ArticleState:
        def change(db: Db, article: ArticleState, state: str) -> tuple[dict, dict]:
            edited, detail = apply(articles.variant(db, article.id, article.current_version, audience))
            articles.replace_variant(db, article.id, article.current_version, edited)
            return {}, {"audience": edited.audience, **detail}

        return self._write(slug, "edit", actor, expected_revision, change, event=event)

    def _verify(self, content: ArticleAnswer) -> None:
        ids = sorted({c.passage_id for s in content.statements() for c in s.citations})
        passages = self.store.passages(ids)
        edits.verify_answer(content, passages)
        doc_ids = sorted({p.document_id for p in passages.values()} | {r.document_id for r in content.references})
        check_canonical(content, passages, self.store.documents(doc_ids))

    @staticmethod
    def _check_question(article: ArticleState, content: ArticleAnswer) -> None:
        if articles.question_key(content.question) != articles.question_key(article.question):
            raise InvalidInput(f"the answer is to {content.question!r}, not to this article's question "
                               f"{article.question!r}")


def mark_stale_for_documents(store: Store, doc_ids: list[int], reason: str | None = None) -> list[ArticleState]:
    """Reopen the review of articles citing ``doc_ids`` that changed or were retired (call after ingestion).

    ``reason`` is optional context appended to each article's reason, e.g. "re-ingested dailymed".
    """
    return PublishingService(store).mark_stale(doc_ids, reason)


def _text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text or len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(f"{what} needs 1 to {MAX_TEXT_CHARS} characters")
    return text
