"""Review comments: on a whole article version, or on one statement of one audience variant."""

from __future__ import annotations

from pydantic import BaseModel

from medora.publish.actors import Actor
from medora.publish.database import Db, now


class Comment(BaseModel):
    id: int
    version: int
    audience: str
    statement_id: str | None = None
    author: str
    body: str
    created_at: str


def add(db: Db, article_id: int, version: int, audience: str, statement_id: str | None,
        actor: Actor, body: str) -> int:
    return db.insert(
        "INSERT INTO article_comments(article_id, version, audience, statement_id, author_id, author, body,"
        " created_at) VALUES (?,?,?,?,?,?,?,?)",
        (article_id, version, audience, statement_id, actor.user_id, actor.username, body, now()),
    )


def for_article(db: Db, article_id: int) -> list[Comment]:
    rows = db.execute(
        "SELECT id, version, audience, statement_id, author, body, created_at FROM article_comments"
        " WHERE article_id = ? ORDER BY id",
        (article_id,),
    )
    keys = ("id", "version", "audience", "statement_id", "author", "body", "created_at")
    return [Comment(**dict(zip(keys, r))) for r in rows]
