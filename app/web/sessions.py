"""Server-side browser sessions, referenced by a signed cookie, kept in the database.

The cookie holds only a random session id signed with itsdangerous (so a forged or altered id is
refused before any lookup); who is signed in, with which roles, the CSRF token, the one-time message
and an OpenID Connect sign-in under way stay on the server, in the ``web_session`` table, found by
the id's SHA-256. Every API process of a deployment serves every session (no sticky sessions at
the reverse proxy), and a restart signs no one out.

A request loads its session once (one read by primary key); the middleware writes it back after
the response only if something changed. ``seen_at`` (the idle limit) is written at most once a
minute per session, not at every page.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.services import web_sessions
from app.services.context import ServiceContext
from app.services.web_sessions import SessionRecord
from app.web.oidc import PendingLogin

COOKIE_NAME = "identito_session"
TOUCH_SECONDS = 60.0  # seen_at is written at most this often (the idle limit counts in minutes)
PURGE_SECONDS = 300.0  # a process deletes the expired sessions at most this often
log = logging.getLogger("identito.web")


@dataclass
class WebSession:
    """One browser's session: anonymous until sign-in, then a subject and roles."""

    id: str
    csrf_token: str
    created_at: float
    seen_at: float
    subject: str | None = None
    display_name: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    flash: str | None = None  # a one-time message for the next page (already translated)
    pending_login: PendingLogin | None = None  # an OpenID Connect sign-in under way
    stored: SessionRecord | None = field(default=None, repr=False)  # as last read or written

    @property
    def signed_in(self) -> bool:
        """Whether someone is signed in."""
        return self.subject is not None


def id_hash(session_id: str) -> str:
    """What the database knows a session by: a copy of the table cannot be turned into cookies."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def cookie_secret(configured: str | None, *deployment_secrets: str | None) -> tuple[str, bool]:
    """The key that signs the cookie, and whether every process of the deployment has the same one:
    the configured key; else one derived from a secret every process is configured with (the
    development token secret, the OpenID Connect client secret); else a random key, valid in this
    process only (a second process would refuse its cookies: set ``IDENTITO_WEB__SESSION_SECRET``)."""
    if configured:
        return configured, True
    shared = next((s for s in deployment_secrets if s), None)
    if shared:
        return hmac.new(shared.encode(), b"identito-web-session-cookie", hashlib.sha256).hexdigest(), True
    return secrets.token_urlsafe(48), False


class SessionStore:
    """Sessions in the database, expired after an idle time and a maximum age."""

    def __init__(self, secret: str, *, ctx: ServiceContext, idle_seconds: float, max_age_seconds: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="identito-web-session")
        self._ctx = ctx
        self._idle = idle_seconds
        self._max_age = max_age_seconds
        self._clock = clock
        self._purged_at = float("-inf")

    def new(self) -> WebSession:
        """A new anonymous session (stored when the response sets its cookie: ``commit``)."""
        now = self._clock()
        return WebSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now)

    def load(self, cookie: str | None) -> WebSession | None:
        """The live session a cookie refers to, or None (unsigned, expired, unknown)."""
        if not cookie:
            return None
        try:
            session_id = str(self._signer.loads(cookie, max_age=int(self._max_age)))
        except BadSignature:
            return None
        record = web_sessions.get(self._ctx, id_hash(session_id))
        if record is None:
            return None
        now = self._clock()
        if now - record.seen_at > self._idle or now - record.created_at > self._max_age:
            web_sessions.drop(self._ctx, record.id_hash)
            return None
        session = WebSession(
            session_id, record.csrf_token, record.created_at, record.seen_at, subject=record.subject,
            display_name=record.display_name, roles=frozenset(record.roles), flash=record.flash,
            pending_login=_pending_from_json(record.pending_login), stored=record)
        if now - record.seen_at >= TOUCH_SECONDS:
            session.seen_at = now
        return session

    def sign_in(self, old: WebSession, subject: str, roles: frozenset[str], display_name: str) -> WebSession:
        """A fresh session (new id and CSRF token: no fixation) for a signed-in user."""
        self.drop(old)
        session = self.new()
        session.subject, session.roles, session.display_name = subject, roles, display_name
        return session

    def drop(self, session: WebSession) -> None:
        """Forget a session (sign-out)."""
        if session.stored is not None:
            web_sessions.drop(self._ctx, session.stored.id_hash)
            session.stored = None

    def changes(self, session: WebSession) -> SessionRecord | None:
        """What ``commit`` would write (None: nothing); no database access, so that a request whose
        session did not change costs no thread hop after its response."""
        record = SessionRecord(
            id_hash(session.id), session.csrf_token, session.created_at, session.seen_at,
            subject=session.subject, display_name=session.display_name, roles=tuple(sorted(session.roles)),
            flash=session.flash, pending_login=_pending_to_json(session.pending_login))
        return None if record == session.stored else record

    def commit(self, session: WebSession, record: SessionRecord | None = None) -> None:
        """Store a new session, or write what changed in a stored one (after the response is made)."""
        record = record or self.changes(session)
        if record is None:
            return
        if session.stored is None:
            self._purge(record.created_at)
            web_sessions.put(self._ctx, record)
        else:
            web_sessions.save(self._ctx, record)  # False: signed out meanwhile (another tab); stays so
        session.stored = record

    def cookie_value(self, session: WebSession) -> str:
        """The signed cookie value of a session."""
        return str(self._signer.dumps(session.id))

    def _purge(self, now: float) -> None:
        if now - self._purged_at < PURGE_SECONDS:
            return
        self._purged_at = now
        gone = web_sessions.purge(self._ctx, seen_before=now - self._idle, created_before=now - self._max_age)
        if gone:
            log.info("expired web sessions deleted: %d", gone)


def _pending_to_json(pending: PendingLogin | None) -> str | None:
    if pending is None:
        return None
    return json.dumps({"state": pending.state, "nonce": pending.nonce, "verifier": pending.verifier})


def _pending_from_json(text: str | None) -> PendingLogin | None:
    if not text:
        return None
    try:
        values: Any = json.loads(text)
        return PendingLogin(str(values["state"]), str(values["nonce"]), str(values["verifier"]))
    except (ValueError, KeyError, TypeError):
        return None


def check_csrf(session: WebSession, submitted: str | None) -> bool:
    """Whether a submitted form carries this session's CSRF token."""
    return bool(submitted) and secrets.compare_digest(session.csrf_token, str(submitted))
