"""Server-side browser sessions, referenced by a signed cookie.

The cookie holds only a random session id signed with itsdangerous (so a forged or altered id is
refused before any lookup); who is signed in, with which roles, and the CSRF token stay on the
server. Sessions live in this process's memory: a restart signs everyone out, and a deployment
with several worker processes needs one process for the web pages (docs/web.md).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE_NAME = "identito_session"


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
    pending_login: Any = None  # an OpenID Connect sign-in under way (app.web.oidc.PendingLogin)

    @property
    def signed_in(self) -> bool:
        """Whether someone is signed in."""
        return self.subject is not None


class SessionStore:
    """Sessions in memory, expired after an idle time and a maximum age."""

    def __init__(self, secret: str, *, idle_seconds: float, max_age_seconds: float) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="identito-web-session")
        self._idle = idle_seconds
        self._max_age = max_age_seconds
        self._sessions: dict[str, WebSession] = {}
        self._lock = threading.Lock()

    def new(self) -> WebSession:
        """A new anonymous session."""
        now = time.monotonic()
        session = WebSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._purge(now)
            self._sessions[session.id] = session
        return session

    def load(self, cookie: str | None) -> WebSession | None:
        """The live session a cookie refers to, or None (unsigned, expired, unknown)."""
        if not cookie:
            return None
        try:
            session_id = self._signer.loads(cookie, max_age=int(self._max_age))
        except BadSignature:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(str(session_id))
            if session is None or self._expired(session, now):
                self._sessions.pop(str(session_id), None)
                return None
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
        with self._lock:
            self._sessions.pop(session.id, None)

    def cookie_value(self, session: WebSession) -> str:
        """The signed cookie value of a session."""
        return str(self._signer.dumps(session.id))

    def _expired(self, session: WebSession, now: float) -> bool:
        return now - session.seen_at > self._idle or now - session.created_at > self._max_age

    def _purge(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[key]


def check_csrf(session: WebSession, submitted: str | None) -> bool:
    """Whether a submitted form carries this session's CSRF token."""
    return bool(submitted) and secrets.compare_digest(session.csrf_token, str(submitted))
