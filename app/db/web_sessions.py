"""The browser sessions' rows (``web_session``): read, written and purged one statement at a time
(each commits by itself: ``Database.appending``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, or_, select, update
from sqlmodel import Session

from app.db.tables import WebSessionRow

WEB_SESSION = WebSessionRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """What the database keeps of a browser session (``id_hash``: SHA-256 of the session id)."""

    id_hash: str
    csrf_token: str
    created_at: float
    seen_at: float
    subject: str | None = None
    display_name: str | None = None
    roles: tuple[str, ...] = ()
    flash: str | None = None
    pending_login: str | None = None  # JSON, or None


class WebSessionRepository:
    """Browser sessions, shared by every process of the deployment."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, id_hash: str) -> SessionRecord | None:
        """The session with this id hash, or None."""
        row = self._session.connection().execute(
            select(WEB_SESSION).where(WEB_SESSION.c.id_hash == id_hash)).mappings().first()
        if row is None:
            return None
        values = dict(row)
        values["roles"] = tuple(r for r in str(values["roles"] or "").split(",") if r)
        return SessionRecord(**values)

    def put(self, record: SessionRecord) -> None:
        """Store a new session."""
        self._session.connection().execute(insert(WEB_SESSION).values(**_columns(record)))

    def save(self, record: SessionRecord) -> bool:
        """Write a session's changes; False when it is gone (signed out elsewhere, purged)."""
        values = _columns(record)
        del values["id_hash"]
        done = self._session.connection().execute(
            update(WEB_SESSION).where(WEB_SESSION.c.id_hash == record.id_hash).values(**values))
        return bool(done.rowcount)

    def drop(self, id_hash: str) -> None:
        """Forget a session (sign-out)."""
        self._session.connection().execute(delete(WEB_SESSION).where(WEB_SESSION.c.id_hash == id_hash))

    def purge(self, *, seen_before: float, created_before: float) -> int:
        """Delete the sessions idle since ``seen_before`` or older than ``created_before``; how many."""
        done = self._session.connection().execute(delete(WEB_SESSION).where(or_(
            WEB_SESSION.c.seen_at < seen_before, WEB_SESSION.c.created_at < created_before)))
        return int(done.rowcount or 0)


def _columns(record: SessionRecord) -> dict[str, object]:
    return {"id_hash": record.id_hash, "csrf_token": record.csrf_token, "created_at": record.created_at,
            "seen_at": record.seen_at, "subject": record.subject, "display_name": record.display_name,
            "roles": ",".join(sorted(record.roles)), "flash": record.flash,
            "pending_login": record.pending_login}
