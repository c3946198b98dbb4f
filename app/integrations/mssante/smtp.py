"""Submission of MSSanté mail to the operator's SMTP server (RFC 5321, 6409), always over STARTTLS.

Authentication: the organisation certificate (the client certificate of the TLS session), or SASL
PLAIN / XOAUTH2 after STARTTLS. Delivery status notifications are asked for (RFC 3461):
``RET=HDRS`` and ``ENVID`` (the tracking id) on MAIL, ``NOTIFY=SUCCESS,FAILURE`` on each RCPT,
when the server offers DSN (a server that does not offer it would refuse the parameters).

Outcomes: ``submit`` returns the recipients refused for good (5xx on RCPT); a whole-message refusal
raises ``PermanentFailure``; a 4xx, a broken connection or a TLS failure raises ``TemporaryFailure``
(the message is tried again later, nothing of it was accepted).
"""

from __future__ import annotations

import base64
import smtplib
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


class SmtpFailure(Exception):
    """A submission that did not go through."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TemporaryFailure(SmtpFailure):
    """Try again later: 4xx, connection or TLS failure."""


class PermanentFailure(SmtpFailure):
    """Refused for good (5xx on MAIL or DATA, or every recipient refused)."""


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to submit."""

    host: str
    port: int
    auth: Literal["certificate", "plain", "xoauth2"] = "certificate"
    ca_path: Path | None = None
    cert_path: Path | None = None
    key_path: Path | None = None
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = 30.0
    local_hostname: str | None = None


def tls_context(config: SmtpConfig) -> ssl.SSLContext:
    """TLS 1.2 at least, the server verified; the organisation certificate when configured."""
    context = ssl.create_default_context(cafile=str(config.ca_path) if config.ca_path else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if config.cert_path is not None:
        context.load_cert_chain(str(config.cert_path), str(config.key_path) if config.key_path else None)
    return context


def xtext(value: str) -> str:
    """RFC 3461 xtext: printable ASCII except '+' and '=', others as +XX."""
    return "".join(c if 33 <= ord(c) <= 126 and c not in "+=" else f"+{ord(c):02X}" for c in value)


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(message.split())}"[:300]


class SmtpSubmitter:
    """One connection to the submission server, opened on first use and kept for later messages."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._context = tls_context(config)
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        try:
            smtp = smtplib.SMTP(c.host, c.port, local_hostname=c.local_hostname, timeout=c.timeout_seconds)
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(f"connection: {type(exc).__name__}: {exc}"[:300]) from None
        try:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise TemporaryFailure("STARTTLS not offered by the server: nothing sent in clear")
            code, text = smtp.starttls(context=self._context)
            if code != 220:
                raise TemporaryFailure(f"STARTTLS refused: {_reply(code, text)}")
            smtp.ehlo()
            self._authenticate(smtp)
        except SmtpFailure:
            smtp.close()
            raise
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            smtp.close()
            raise TemporaryFailure(f"TLS or session: {type(exc).__name__}: {exc}"[:300]) from None
        return smtp

    def _authenticate(self, smtp: smtplib.SMTP) -> None:
        c = self.config
        if c.auth == "certificate":
            return
        user, secret = c.username or "", c.password or ""
        if c.auth == "plain":
            initial = base64.b64encode(f"\0{user}\0{secret}".encode()).decode()
        else:
            initial = base64.b64encode(f"user={user}\x01auth=Bearer {secret}\x01\x01".encode()).decode()
        code, text = smtp.docmd("AUTH", f"{c.auth.upper()} {initial}")
        if code != 235:  # a configuration matter: the message waits (then a dead letter), never fails
            raise TemporaryFailure(f"authentication refused: {_reply(code, text)}")

    def submit(self, sender: str, recipients: tuple[str, ...], mail: bytes, envid: str) -> dict[str, str]:
        """Submit one mail; returns the recipients refused for good and why (others were accepted)."""
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        try:
            return self._transaction(smtp, sender, recipients, mail, envid)
        except SmtpFailure:
            self._reset()
            raise
        except smtplib.SMTPServerDisconnected as exc:
            self.close()
            raise TemporaryFailure(f"connection lost: {exc}"[:300]) from None
        except smtplib.SMTPResponseException as exc:
            self._reset()
            failure = PermanentFailure if 500 <= exc.smtp_code < 600 else TemporaryFailure
            raise failure(_reply(exc.smtp_code, exc.smtp_error)) from None
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            self.close()
            raise TemporaryFailure(f"connection lost: {type(exc).__name__}"[:300]) from None

    def _transaction(
        self, smtp: smtplib.SMTP, sender: str, recipients: tuple[str, ...], mail: bytes, envid: str
    ) -> dict[str, str]:
        dsn = smtp.has_extn("dsn")
        mail_options = ["RET=HDRS", f"ENVID={xtext(envid)}"] if dsn else []
        if smtp.has_extn("size"):
            mail_options.append(f"SIZE={len(mail)}")
        code, text = smtp.mail(sender, mail_options)
        self._check(code, text, "MAIL")
        refused: dict[str, str] = {}
        accepted = 0
        for address in recipients:
            code, text = smtp.rcpt(address, ["NOTIFY=SUCCESS,FAILURE"] if dsn else [])
            if 200 <= code < 300:
                accepted += 1
            elif 400 <= code < 500 or code == -1:
                raise TemporaryFailure(f"RCPT: {_reply(code, text)}")
            else:
                refused[address] = _reply(code, text)
        if not accepted:
            raise PermanentFailure(
                "every recipient refused: " + "; ".join(sorted(set(refused.values())))[:250]
            )
        code, text = smtp.data(mail)
        self._check(code, text, "DATA")
        return refused

    @staticmethod
    def _check(code: int, text: bytes, step: str) -> None:
        if 200 <= code < 400:
            return
        failure = PermanentFailure if 500 <= code < 600 else TemporaryFailure
        raise failure(f"{step}: {_reply(code, text)}")

    def _reset(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (OSError, smtplib.SMTPException, ssl.SSLError):
            self.close()

    def close(self) -> None:
        """Say QUIT and close (silently when the connection is already gone)."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (TimeoutError, OSError, smtplib.SMTPException, ssl.SSLError):
            smtp.close()
