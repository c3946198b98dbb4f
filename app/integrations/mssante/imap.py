"""Reading the application mailbox over IMAP (RFC 3501 / 9051), always over STARTTLS.

Authentication: the login and password (or token) of the mailbox, over TLS 1.2 at least, with the
organisation certificate as client certificate when one is configured (operators that check it).
Mails are read without being marked (``BODY.PEEK[]``) and marked ``\\Seen`` only once handled, so
a reader that dies in between reads them again (the receipt handling ignores what it already did).
"""

from __future__ import annotations

import imaplib
import ssl
from dataclasses import dataclass
from pathlib import Path

from app.integrations.mssante.smtp import SmtpConfig, tls_context


class ImapFailure(Exception):
    """The mailbox could not be read (connection, TLS, login, command refused)."""


@dataclass(frozen=True, slots=True)
class ImapConfig:
    """Where the application mailbox is and how to log in."""

    host: str
    port: int
    username: str
    password: str
    ca_path: Path | None = None
    cert_path: Path | None = None
    key_path: Path | None = None
    mailbox: str = "INBOX"
    timeout_seconds: float = 30.0


class ImapReader:
    """One IMAP session, opened on first use."""

    def __init__(self, config: ImapConfig) -> None:
        self.config = config
        self._context: ssl.SSLContext = tls_context(
            SmtpConfig(
                config.host,
                config.port,
                ca_path=config.ca_path,
                cert_path=config.cert_path,
                key_path=config.key_path,
            )
        )
        self._imap: imaplib.IMAP4 | None = None

    def _session(self) -> imaplib.IMAP4:
        if self._imap is not None:
            return self._imap
        c = self.config
        try:
            imap = imaplib.IMAP4(c.host, c.port, timeout=c.timeout_seconds)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ImapFailure(f"connection: {type(exc).__name__}: {exc}"[:300]) from None
        try:
            if "STARTTLS" not in imap.capabilities:
                raise ImapFailure("STARTTLS not offered by the server: no login in clear")
            imap.starttls(ssl_context=self._context)
            imap.login(c.username, c.password)
            status, _ = imap.select(c.mailbox)
            if status != "OK":
                raise ImapFailure(f"mailbox {c.mailbox} cannot be selected")
        except ImapFailure:
            imap.shutdown()
            raise
        except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
            imap.shutdown()
            raise ImapFailure(f"TLS or login: {type(exc).__name__}: {exc}"[:300]) from None
        self._imap = imap
        return imap

    def unseen(self, limit: int = 100) -> list[tuple[bytes, bytes]]:
        """Up to ``limit`` unseen mails as (UID, raw bytes), oldest first, left unseen."""
        imap = self._session()
        try:
            status, data = imap.uid("SEARCH", "UNSEEN")
            uids = data[0].split()[:limit] if status == "OK" and data and data[0] else []
            mails = []
            for uid in uids:
                status, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next((p[1] for p in parts if isinstance(p, tuple) and len(p) == 2), None)
                if status == "OK" and isinstance(raw, bytes):
                    mails.append((uid, raw))
            return mails
        except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
            self.close()
            raise ImapFailure(f"reading: {type(exc).__name__}"[:300]) from None

    def mark_seen(self, uid: bytes) -> None:
        """Mark a handled mail ``\\Seen``."""
        imap = self._session()
        try:
            imap.uid("STORE", uid, "+FLAGS", "(\\Seen)")
        except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
            self.close()
            raise ImapFailure(f"marking: {type(exc).__name__}"[:300]) from None

    def close(self) -> None:
        """Log out (silently when the session is already gone)."""
        imap, self._imap = self._imap, None
        if imap is None:
            return
        try:
            imap.logout()
        except (OSError, imaplib.IMAP4.error, ssl.SSLError):
            imap.shutdown()
