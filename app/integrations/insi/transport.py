"""zeep transport over httpx: local-only WSDL loading, explicit timeouts, a total deadline per call.

zeep's own synchronous ``Transport`` is built on requests; this subclass replaces it with
``httpx.Client`` objects (one per TLS identity: the INSI-AUTO and INSI-MANU certificates need
their own client because httpx binds the client certificate to the connection pool), so the
tests can intercept calls with respx. The WSDL and XSD are read from local files only.

The total deadline is enforced by streaming the body and checking the clock after each chunk,
with every httpx timeout capped by the remaining budget: a server that drips bytes cannot hold a
call much longer than the deadline (at most one read timeout, itself capped by the budget).
"""

from __future__ import annotations

import logging
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
from zeep.transports import Transport

from app.domain.insi import (
    InsiConfigurationError,
    InsiError,
    InsiTechnicalError,
    InsiTimeout,
    InsiTlsError,
    InsiUnavailable,
)
from app.domain.messages import register_terms

logger = logging.getLogger(__name__)
# An INSi answer is a few kilobytes; a server that sends more is broken (or not INSi).
MAX_ANSWER_BYTES = 1 << 20

# Details of INSi call failures (here, in parsing.py, client.py and card.py), in French.
register_terms({
    "WSDL/XSD must be local files, not {scheme} URLs":
        "les WSDL/XSD doivent être des fichiers locaux, pas des URL {scheme}",
    "cannot read WSDL/XSD {file}": "WSDL/XSD {file} illisible",
    "the INSi client never downloads documents": "le client INSi ne télécharge jamais de document",
    "answer larger than {limit} bytes": "réponse de plus de {limit} octets",
    "connection refused or unreachable": "connexion refusée ou serveur injoignable",
    "answer without {element}": "réponse sans {element}",
    "answer with a DTD (refused)": "réponse avec une DTD (refusée)",
    "answer is not XML": "la réponse n'est pas du XML",
    "answer is not a SOAP 1.2 envelope": "la réponse n'est pas une enveloppe SOAP 1.2",
    "SOAP envelope without Body": "enveloppe SOAP sans Body",
    "answer without RESULTAT": "réponse sans RESULTAT",
    "answer without CR": "réponse sans CR",
    "unknown CodeCR {cr_code}": "CodeCR inconnu {cr_code}",
    "CodeCR 00 without INDIVIDU": "CodeCR 00 sans INDIVIDU",
    "INDIVIDU without INSACTIF or TIQ": "INDIVIDU sans INSACTIF ni TIQ",
    "INS without IdIndividu": "INS sans IdIndividu",
    "the WSDL {file} cannot be used": "le WSDL {file} est inutilisable",
    "the WSDL does not describe {operation}": "le WSDL ne décrit pas {operation}",
    "the card certificate names no holder": "le certificat de la carte ne nomme pas de titulaire",
    "no signature certificate on the card": "pas de certificat de signature sur la carte",
}, parameter="detail")


@dataclass(frozen=True, slots=True)
class RawResponse:
    """What came back on the wire."""

    status_code: int
    content_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Connect and read timeouts, and the total deadline of one call (seconds)."""

    connect: float
    read: float
    total: float


class LocalHttpxTransport(Transport):
    """A zeep transport that loads documents from disk only and posts with httpx."""

    def __init__(self, client: httpx.Client, timeouts: Timeouts) -> None:
        # Deliberately not calling Transport.__init__: it builds a requests session.
        self.cache = None
        self.load_timeout = timeouts.total
        self.operation_timeout = timeouts.total
        self.logger = logger
        self._close_session = False
        self.client = client
        self.timeouts = timeouts

    def load(self, url: str) -> bytes:
        """Read a WSDL/XSD from a local path or file:// URL; network URLs are refused."""
        parsed = urlparse(url)
        if parsed.scheme in ("http", "https"):
            raise InsiConfigurationError(detail="WSDL/XSD must be local files, not {scheme} URLs",
                                         scheme=parsed.scheme)
        path = Path(parsed.path if parsed.scheme == "file" else url).expanduser()
        try:
            return path.read_bytes()
        except OSError as exc:
            raise InsiConfigurationError(detail="cannot read WSDL/XSD {file}", file=path.name) from exc

    def get(self, address: str, params: object, headers: object) -> httpx.Response:
        """zeep's GET (unused: documents are local)."""
        raise InsiConfigurationError(detail="the INSi client never downloads documents")

    def post(self, address: str, message: bytes, headers: dict[str, str]) -> RawResponse:
        """zeep's POST, through the default client and the call deadline."""
        return post_with_deadline(self.client, address, message, headers, self.timeouts)

    def __del__(self) -> None:
        """Nothing to close here: the owner closes the httpx clients."""


def _httpx_timeout(timeouts: Timeouts, remaining: float) -> httpx.Timeout:
    budget = max(remaining, 0.001)
    return httpx.Timeout(
        connect=min(timeouts.connect, budget),
        read=min(timeouts.read, budget),
        write=min(timeouts.read, budget),
        pool=budget,
    )


def timeout_error(timeouts: Timeouts, cause: httpx.TimeoutException | None = None) -> InsiTimeout:
    """The timeout, stating the limit that stopped the call and the configured read timeout."""
    waited = timeouts.total
    if isinstance(cause, httpx.ConnectTimeout):
        waited = min(timeouts.connect, timeouts.total)
    elif isinstance(cause, httpx.ReadTimeout):
        waited = min(timeouts.read, timeouts.total)
    return InsiTimeout(seconds=f"{waited:g}", read_timeout=f"{timeouts.read:g}", total=f"{timeouts.total:g}")


def post_with_deadline(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeouts: Timeouts,
) -> RawResponse:
    """POST and read the whole answer within the total deadline, mapping transport errors."""
    deadline = time.monotonic() + timeouts.total
    try:
        with client.stream(
            "POST", url, content=body, headers=headers, timeout=_httpx_timeout(timeouts, timeouts.total)
        ) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise InsiTechnicalError(detail="answer larger than {limit} bytes",
                                             limit=MAX_ANSWER_BYTES)
                if time.monotonic() > deadline:
                    raise timeout_error(timeouts)
            if time.monotonic() > deadline:
                raise timeout_error(timeouts)
            return RawResponse(
                response.status_code, response.headers.get("content-type", ""), b"".join(chunks)
            )
    except httpx.TimeoutException as exc:
        raise timeout_error(timeouts, exc) from exc
    except httpx.TransportError as exc:
        raise map_transport_error(exc) from exc


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    text = str(exc)
    if "SSL" in text or "TLS" in text or "CERTIFICATE" in text.upper():
        return ssl.SSLError(text)
    return None


def map_transport_error(exc: httpx.TransportError) -> InsiError:
    """A TLS failure is a configuration matter; other transport failures are unavailability."""
    ssl_error = _ssl_cause(exc)
    if ssl_error is not None:
        reason = getattr(ssl_error, "reason", None) or type(ssl_error).__name__
        return InsiTlsError(detail=str(reason))
    if isinstance(exc, httpx.ConnectError):
        return InsiUnavailable(detail="connection refused or unreachable")
    return InsiUnavailable(detail=type(exc).__name__)
