"""Browser sessions kept in the database, so that every API process serves every session and a
restart signs no one out (app/web/sessions.py holds the rules: expiry, sign-in, CSRF). Each call is
one statement that commits by itself."""

from __future__ import annotations

from app.db.web_sessions import SessionRecord
from app.services.context import ServiceContext

__all__ = ["SessionRecord", "drop", "get", "purge", "put", "save"]


def get(ctx: ServiceContext, id_hash: str) -> SessionRecord | None:
    """The stored session with this id hash, or None."""
    with ctx.reading() as reader:
        return reader.web_sessions.get(id_hash)


def put(ctx: ServiceContext, record: SessionRecord) -> None:
    """Store a new session."""
    with ctx.db.appending() as repositories:
        repositories.web_sessions.put(record)


def save(ctx: ServiceContext, record: SessionRecord) -> bool:
    """Write a session's changes; False when it no longer exists."""
    with ctx.db.appending() as repositories:
        return repositories.web_sessions.save(record)


def drop(ctx: ServiceContext, id_hash: str) -> None:
    """Forget a session."""
    with ctx.db.appending() as repositories:
        repositories.web_sessions.drop(id_hash)


def purge(ctx: ServiceContext, *, seen_before: float, created_before: float) -> int:
    """Delete expired sessions; how many."""
    with ctx.db.appending() as repositories:
        return repositories.web_sessions.purge(seen_before=seen_before, created_before=created_before)
