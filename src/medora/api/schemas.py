"""Request and response bodies of the REST API that are not already Medora models.

Answers (``medora.models.Answer``), article states, versions, diffs, comments and audit
entries (``medora.publish``) are served as they are; this module adds what only the API needs.
Every string and number a client sends is bounded here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from medora.answer.compose import MAX_QUESTION_CHARS
from medora.models import Answer, Document, Passage
from medora.publish.articles import AUDIENCES, ArticleState, ArticleVersion
from medora.publish.service import MAX_TEXT_CHARS
from medora.publish.users import SCOPES, User

Audience = Literal[AUDIENCES]  # type: ignore[valid-type]
Revision = Annotated[int, Field(ge=1, le=2**53, description="The article revision this action is based on")]
Position = Annotated[int, Field(ge=0, le=10_000, description="0-based position within the section")]
Id = Annotated[int, Field(ge=1, le=2**53)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------ asking


class AskRequest(Strict):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, examples=["What causes Tourette syndrome?"])
    audience: Audience = "clinician"
    thread: str | None = Field(None, pattern=r"^(new|[0-9a-f]{16})$",
                               description="'new' starts a follow-up thread; a thread id continues one "
                                           "(the answer's thread_id)")
    live: bool | None = Field(None, description="Search PubMed and openFDA now as well (true), or not (false); "
                              "default: the server's `live` setting. Only the cleaned, redacted question's words "
                              "leave the server; the answer's `live` says what the search did")


# ------------------------------------------------------------------------------ articles


class SaveArticle(Strict):
    """Save an answer as a new draft article: send the answer you got from /v1/ask (it is checked against
    the library), or a question for the server to answer now."""

    answer: Answer | None = None
    question: str | None = Field(None, min_length=1, max_length=MAX_QUESTION_CHARS)
    audience: Audience = Field("clinician", description="With 'question': for whom to answer it")

    @model_validator(mode="after")
    def _one_source(self) -> SaveArticle:
        if (self.answer is None) == (self.question is None):
            raise ValueError("send either 'answer' or 'question'")
        return self


class NewVersion(Strict):
    """A new version (or, at /variants, an audience variant of the current version): the answer given, or
    the article's question answered again now."""

    expected_revision: Revision
    answer: Answer | None = None
    audience: Audience | None = Field(None, description="When answering again: for whom (default: clinician)")


class ArticleSummary(BaseModel):
    """One article in a list. Fields only staff may see are null in the public list."""

    slug: str
    title: str
    state: str
    approved_version: int | None = None
    approved_by: str | None = None
    approved_at: str | None = None
    current_version: int | None = None
    revision: int | None = None
    state_reason: str | None = None
    claimed_by: str | None = None
    updated_at: str | None = None

    @classmethod
    def of(cls, article: ArticleState) -> ArticleSummary:
        return cls.model_validate(article.model_dump(include=set(cls.model_fields)))


class ArticleView(BaseModel):
    """One version of an article: for the public, the last approved one; for staff, any (default: current)
    with the review state in ``review``."""

    slug: str
    title: str
    state: str
    approved_version: int | None = None
    approved_by: str | None = None
    approved_at: str | None = None
    version: ArticleVersion
    review: ArticleState | None = Field(None, description="Staff only: the article's review state")


# ------------------------------------------------------------------------------ review actions


class _Action(Strict):
    expected_revision: Revision


class PlainAction(_Action):
    action: Literal["submit", "claim", "approve"]


class ReasonedAction(_Action):
    action: Literal["request_changes", "reject", "reopen"]
    reason: LongText


class RetireAction(_Action):
    action: Literal["retire"]
    reason: LongText | None = None


class CommentAction(_Action):
    action: Literal["comment"]
    body: LongText
    statement_id: ShortText | None = Field(None, description="Comment on this statement (e.g. 's3') only")
    audience: Audience | None = None


class RemoveStatement(_Action):
    action: Literal["remove_statement"]
    statement_id: ShortText
    audience: Audience | None = None


class MoveStatement(_Action):
    action: Literal["move_statement"]
    statement_id: ShortText
    position: Position
    audience: Audience | None = None


class AddNote(_Action):
    action: Literal["add_note"]
    section: ShortText
    position: Position
    text: LongText
    audience: Audience | None = None


class AddStatement(_Action):
    action: Literal["add_statement"]
    section: ShortText
    position: Position
    passage_id: Id
    start: Annotated[int, Field(ge=0, le=10_000_000)]
    end: Annotated[int, Field(ge=0, le=10_000_000)]
    quote: LongText
    audience: Audience | None = None


ReviewAction = Annotated[
    PlainAction | ReasonedAction | RetireAction | CommentAction | RemoveStatement | MoveStatement | AddNote
    | AddStatement,
    Field(discriminator="action"),
]


# ------------------------------------------------------------------------------ accounts


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginResult(BaseModel):
    token: str = Field(description="Send as 'Authorization: Bearer <token>' until expires_at")
    token_type: Literal["bearer"] = "bearer"
    expires_at: str
    user: User
    scopes: list[str]


class Me(BaseModel):
    user: User | None = Field(None, description="Null for anonymous callers")
    role: str
    scopes: list[Literal[SCOPES]]  # type: ignore[valid-type]


# ------------------------------------------------------------------------------ library and service


class LibrarySource(BaseModel):
    name: str
    publisher: str | None = None
    license: str | None = None
    url: str | None = None
    version: str | None = None
    attribution: str | None = None
    ingested_at: str | None = None
    documents: int
    passages: int


class DocumentView(BaseModel):
    document: Document
    passages: list[Passage]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    schema_version: int
