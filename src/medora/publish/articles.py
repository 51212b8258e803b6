"""Articles: saved answers with a stable slug, numbered versions and audience variants.

An article is one question. Each version holds one ``ArticleAnswer`` per audience (the variant
it was made from first, others added later); all variants of a version share the article's
review state. For each version the library documents its variants cite are recorded with the
document version they had, so a later change to a source can reopen the review. Functions here
read and write rows inside the caller's transaction; the workflow rules live in ``service``.
"""

from __future__ import annotations

import re
import unicodedata

from pydantic import BaseModel

from medora.publish.actors import Actor
from medora.publish.content import ArticleAnswer
from medora.publish.database import Db, now
from medora.publish.errors import InvalidInput, NotFound

AUDIENCES = ("clinician", "student", "patient", "caregiver")
MAX_SLUG_CHARS = 80


class ArticleState(BaseModel):
    """An article's review state; ``revision`` changes with every write and is the optimistic-concurrency token."""

    id: int
    slug: str
    question: str
    title: str
    state: str
    state_reason: str | None = None
    revision: int
    current_version: int
    approved_version: int | None = None
    claimed_by: str | None = None
    approved_by: str | None = None
    approved_at: str | None = None
    created_by: str | None = None
    created_at: str
    updated_at: str
    audiences: list[str]


class CitedSource(BaseModel):
    document_id: int
    version: int


class ArticleVersion(BaseModel):
    """One audience variant of one version, with the library documents the version cites."""

    slug: str
    version: int
    audience: str
    audiences: list[str]
    created_at: str
    created_by: str | None = None
    answer: ArticleAnswer
    sources: list[CitedSource]


# ---------------------------------------------------------------------------------- slugs


def slugify(question: str) -> str:
    """Lowercase ASCII words joined by hyphens, at most ``MAX_SLUG_CHARS``, cut at a word boundary."""
    ascii_text = unicodedata.normalize("NFKD", question).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    if len(slug) > MAX_SLUG_CHARS:
        cut = slug[: MAX_SLUG_CHARS + 1]
        slug = cut[: cut.rfind("-")] if "-" in cut else slug[:MAX_SLUG_CHARS]
    return slug or "article"


def question_key(question: str) -> str:
    """What makes two questions the same article: case, spacing and final punctuation do not count."""
    return " ".join(question.casefold().split()).rstrip(" ?.!")


def _free_slug(db: Db, question: str) -> str:
    """The question's slug, or the first of slug-2, slug-3... not taken (kept within ``MAX_SLUG_CHARS``)."""
    base = slug = slugify(question)
    n = 1
    while db.execute("SELECT 1 FROM articles WHERE slug = ?", (slug,)).fetchone():
        n += 1
        suffix = f"-{n}"
        slug = base[: MAX_SLUG_CHARS - len(suffix)].rstrip("-") + suffix
    return slug


# ---------------------------------------------------------------------------------- reading

_STATE_SELECT = (
    "SELECT a.id, a.slug, a.question, a.title, a.state, a.state_reason, a.revision, a.current_version,"
    " a.approved_version, uc.username, ua.username, a.approved_at, ub.username, a.created_at, a.updated_at"
    " FROM articles a LEFT JOIN users uc ON uc.id = a.claimed_by LEFT JOIN users ua ON ua.id = a.approved_by"
    " LEFT JOIN users ub ON ub.id = a.created_by"
)
_STATE_KEYS = ("id", "slug", "question", "title", "state", "state_reason", "revision", "current_version",
               "approved_version", "claimed_by", "approved_by", "approved_at", "created_by", "created_at",
               "updated_at")


def _state(db: Db, row: tuple) -> ArticleState:
    values = dict(zip(_STATE_KEYS, row))
    return ArticleState(**values, audiences=audiences(db, values["id"], values["current_version"]))


def load(db: Db, slug: str) -> ArticleState:
    row = db.execute(_STATE_SELECT + " WHERE a.slug = ?", (slug,)).fetchone()
    if row is None:
        raise NotFound(f"no article {slug!r}")
    return _state(db, row)


def load_many(db: Db, where: str = "", args: tuple = ()) -> list[ArticleState]:
    return [_state(db, r) for r in db.execute(_STATE_SELECT + f" {where} ORDER BY a.updated_at DESC, a.id", args)]


def find_by_question(db: Db, question: str) -> ArticleState | None:
    row = db.execute(_STATE_SELECT + " WHERE a.question_key = ?", (question_key(question),)).fetchone()
    return _state(db, row) if row else None


EDIT_EVENTS = ("remove_statement", "move_statement", "add_note", "add_statement", "add_variant", "revise", "create")


def authors(db: Db, article_id: int, version: int) -> set[str]:
    """Usernames of everyone who wrote any of version ``version``: the article's creator, who made the version
    or a variant of it, and who edited it (statements removed, moved or added, notes)."""
    marks = ",".join("?" * len(EDIT_EVENTS))
    rows = db.execute(
        "SELECT u.username FROM users u WHERE u.id IN ("
        " SELECT created_by FROM articles WHERE id = ?"
        " UNION SELECT created_by FROM article_versions WHERE article_id = ? AND version = ?"
        " UNION SELECT created_by FROM article_variants WHERE article_id = ? AND version = ?"
        f" UNION SELECT actor_id FROM audit_log WHERE article_id = ? AND version = ? AND action IN ({marks}))",
        (article_id, article_id, version, article_id, version, article_id, version, *EDIT_EVENTS))
    return {r[0] for r in rows}


def audiences(db: Db, article_id: int, version: int) -> list[str]:
    rows = db.execute("SELECT audience FROM article_variants WHERE article_id = ? AND version = ? ORDER BY rowid",
                      (article_id, version))
    return [r[0] for r in rows]


def variant(db: Db, article_id: int, version: int, audience: str | None = None) -> ArticleAnswer:
    """The answer of one variant; ``audience`` None means the version's first (primary) variant."""
    return ArticleAnswer.model_validate_json(_variant_row(db, article_id, version, audience)[1])


def load_version(db: Db, article: ArticleState, version: int,
                 audience: str | None = None) -> ArticleVersion:
    aud, answer_json, created_at, created_by = _variant_row(db, article.id, version, audience)
    sources = db.execute("SELECT document_id, document_version FROM article_sources"
                         " WHERE article_id = ? AND version = ? ORDER BY document_id", (article.id, version))
    return ArticleVersion(
        slug=article.slug, version=version, audience=aud, audiences=audiences(db, article.id, version),
        created_at=created_at, created_by=created_by, answer=ArticleAnswer.model_validate_json(answer_json),
        sources=[CitedSource(document_id=d, version=v) for d, v in sources],
    )


def _variant_row(db: Db, article_id: int, version: int, audience: str | None) -> tuple:
    sql = ("SELECT v.audience, v.answer, v.created_at, u.username FROM article_variants v"
           " LEFT JOIN users u ON u.id = v.created_by WHERE v.article_id = ? AND v.version = ?")
    args: tuple = (article_id, version)
    if audience is not None:
        sql, args = sql + " AND v.audience = ?", (*args, audience)
    row = db.execute(sql + " ORDER BY v.rowid LIMIT 1", args).fetchone()
    if row is None:
        what = f"{audience} variant of version {version}" if audience else f"version {version}"
        raise NotFound(f"this article has no {what}")
    return row


# ---------------------------------------------------------------------------------- writing


def insert(db: Db, answer: ArticleAnswer, actor: Actor, state: str) -> str:
    """A new article in ``state`` with ``answer`` as version 1; returns its slug."""
    stamp = now()
    slug = _free_slug(db, answer.question)
    article_id = db.insert(
        "INSERT INTO articles(slug, question, question_key, title, state, revision, current_version, created_by,"
        " created_at, updated_at) VALUES (?,?,?,?,?,1,1,?,?,?)",
        (slug, answer.question, question_key(answer.question), answer.title, state, actor.user_id, stamp, stamp),
    )
    add_version(db, article_id, 1, answer, actor)
    return slug


def add_version(db: Db, article_id: int, version: int, answer: ArticleAnswer, actor: Actor) -> None:
    db.execute("INSERT INTO article_versions(article_id, version, audience, created_at, created_by) VALUES (?,?,?,?,?)",
               (article_id, version, answer.audience, now(), actor.user_id))
    add_variant(db, article_id, version, answer, actor)


def add_variant(db: Db, article_id: int, version: int, answer: ArticleAnswer, actor: Actor) -> None:
    if answer.audience not in AUDIENCES:
        raise InvalidInput(f"unknown audience {answer.audience!r}; choose one of {', '.join(AUDIENCES)}")
    if answer.audience in audiences(db, article_id, version):
        raise InvalidInput(f"version {version} already has a {answer.audience} variant")
    db.execute("INSERT INTO article_variants(article_id, version, audience, answer, created_at, created_by)"
               " VALUES (?,?,?,?,?,?)",
               (article_id, version, answer.audience, _json(answer), now(), actor.user_id))
    refresh_sources(db, article_id, version)


def replace_variant(db: Db, article_id: int, version: int, answer: ArticleAnswer) -> None:
    """Store an edited variant in place (the audit log keeps what changed)."""
    db.execute("UPDATE article_variants SET answer = ? WHERE article_id = ? AND version = ? AND audience = ?",
               (_json(answer), article_id, version, answer.audience))
    refresh_sources(db, article_id, version)


def refresh_sources(db: Db, article_id: int, version: int) -> None:
    """Record the documents the version's variants cite; a document already recorded keeps its recorded version."""
    cited: set[int] = set()
    for (answer_json,) in db.execute("SELECT answer FROM article_variants WHERE article_id = ? AND version = ?",
                                     (article_id, version)):
        cited |= ArticleAnswer.model_validate_json(answer_json).cited_document_ids()
    known = dict(db.execute("SELECT document_id, document_version FROM article_sources"
                            " WHERE article_id = ? AND version = ?", (article_id, version)))
    current = dict(db.execute(f"SELECT id, version FROM documents WHERE id IN ({','.join('?' * len(cited))})",
                              tuple(cited))) if cited else {}
    missing = cited - current.keys()
    if missing:
        raise InvalidInput(f"the answer cites documents this library does not hold: {sorted(missing)}")
    db.execute("DELETE FROM article_sources WHERE article_id = ? AND version = ?", (article_id, version))
    db.executemany("INSERT INTO article_sources(article_id, version, document_id, document_version) VALUES (?,?,?,?)",
                   [(article_id, version, d, known.get(d, current[d])) for d in sorted(cited)])


def update(db: Db, article_id: int, **fields: object) -> None:
    """Set ``fields`` on the article and move it to the next revision."""
    assignments = "".join(f"{name} = ?, " for name in fields)
    db.execute(f"UPDATE articles SET {assignments}revision = revision + 1, updated_at = ? WHERE id = ?",
               (*fields.values(), now(), article_id))


def _json(answer: ArticleAnswer) -> str:
    return answer.model_dump_json(by_alias=True)
