"""The INSi simulator: an ASGI app (Starlette) serving the INSi contract from a persona file.

It checks what the real service checks (the four headers, a known IDAM, a client certificate
CN of INSI-AUTO/INSI-MANU or a signed assertion, a well-formed body matching the Action) and
answers in the real formats. ``Behaviour`` can be changed while the server runs (tests, demos):
fixed latency, faults at a given rate, dialect. Never log traits: the simulator logs nothing.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID
from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.simulator import soap
from app.simulator.personas import Persona, PersonaBook

SOAP12 = soap.SOAP12
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
SAML2 = "urn:oasis:names:tc:SAML:2.0:assertion"
CTXLPS, CTXBAM = "urn:siram:lps:ctxlps", "urn:siram:bam:ctxbam"
REC_SANS, REC_VIT = "http://www.cnamts.fr/INSiRecSans", "http://www.cnamts.fr/INSiRecVit"
ACTIONS = {
    f"{{{REC_SANS}}}RECSANSVITALE": "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite",
    f"{{{REC_VIT}}}RECVITALE": "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale",
}
ALLOWED_CNS = ("INSI-AUTO", "INSI-MANU")
WSDL_DIR = Path(__file__).resolve().parents[2] / "wsdl"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@dataclass
class Behaviour:
    """How the simulator behaves; mutable while it runs."""

    known_idams: list[str] | None = field(default_factory=lambda: ["IDENTITO-DEV"])
    dialect: soap.Dialect = "current"
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    fault_kind: str = "unavailable"  # unavailable | technical | timeout
    hang_seconds: float = 30.0  # how long a "timeout" fault keeps the caller waiting
    require_authentication: bool = False  # client certificate or signed assertion (set for HTTPS)
    keep_requests: int = 0  # keep the last N raw requests in ``received`` (tests)
    received: deque[bytes] = field(default_factory=lambda: deque(maxlen=50))
    client_cns: deque[str | None] = field(default_factory=lambda: deque(maxlen=50))
    seed: int | None = None


class Rejected(Exception):
    """The request is refused with the given fault kind."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def _text(parent: etree._Element, path: str) -> str | None:
    value = parent.findtext(path)
    return value.strip() if value is not None else None


def _client_cn(request: Request) -> str | None:
    tls = request.scope.get("extensions", {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        return None
    cert = x509.load_pem_x509_certificate(chain[0].encode())
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _body_schemas() -> dict[str, etree.XMLSchema]:
    """The request body schemas (the project's own XSD), by body element tag."""
    return {
        f"{{{REC_SANS}}}RECSANSVITALE": etree.XMLSchema(etree.parse(str(WSDL_DIR / "INSiRecSans.xsd"))),
        f"{{{REC_VIT}}}RECVITALE": etree.XMLSchema(etree.parse(str(WSDL_DIR / "INSiRecVit.xsd"))),
    }


class Simulator:
    """Request handling of the simulated service."""

    def __init__(self, book: PersonaBook, behaviour: Behaviour) -> None:
        self.book, self.behaviour = book, behaviour
        self.random = random.Random(behaviour.seed)
        self.schemas = _body_schemas()

    def check(self, request: Request, root: etree._Element) -> tuple[etree._Element, str, str]:
        """Headers, IDAM, authentication, body: the body element, its Action and the MessageID."""
        header, body = root.find(f"{{{SOAP12}}}Header"), root.find(f"{{{SOAP12}}}Body")
        if root.tag != f"{{{SOAP12}}}Envelope" or header is None or body is None or len(body) != 1:
            raise Rejected("malformed")
        message_id = _text(header, f"{{{WSA}}}MessageID") or ""
        action = _text(header, f"{{{WSA}}}Action")
        lps, bam = header.find(f"{{{CTXLPS}}}ContexteLPS"), header.find(f"{{{CTXBAM}}}ContexteBAM")
        if not message_id or not action or lps is None or bam is None:
            raise Rejected("malformed")
        if bam.find(f"{{{CTXBAM}}}COUVERTURE") is None:
            raise Rejected("malformed")
        idam = _text(lps, f"{{{CTXLPS}}}LPS/{{{CTXLPS}}}IDAM")
        if self.behaviour.known_idams is not None and idam not in self.behaviour.known_idams:
            raise Rejected("unknown-idam")
        self._check_authentication(request, header)
        element = body[0]
        if ACTIONS.get(element.tag) != action or not self.schemas[element.tag].validate(element):
            raise Rejected("malformed")
        return element, action, message_id

    def _check_authentication(self, request: Request, header: etree._Element) -> None:
        cn = _client_cn(request)
        if cn is not None:
            if cn not in ALLOWED_CNS:
                raise Rejected("certificate")
            return
        if not self.behaviour.require_authentication:
            return
        if header.find(f"{{{WSSE}}}Security/{{{SAML2}}}Assertion") is None:
            raise Rejected("certificate")

    def answer(self, element: etree._Element) -> tuple[str, Persona | None]:
        """CR code and person for a search."""
        if element.tag == f"{{{REC_SANS}}}RECSANSVITALE":
            found = self.book.by_traits(
                _text(element, f"{{{REC_SANS}}}NomNaissance") or "",
                [p.text or "" for p in element.findall(f"{{{REC_SANS}}}Prenom")],
                _text(element, f"{{{REC_SANS}}}Sexe") or "",
                _text(element, f"{{{REC_SANS}}}DateNaissance") or "",
                _text(element, f"{{{REC_SANS}}}LieuNaissance"),
            )
        else:
            who = element.find(f"{{{REC_VIT}}}MatriculeIndividu")
            who = who if who is not None else element.find(f"{{{REC_VIT}}}MatriculeOD")
            if who is None:
                raise Rejected("malformed")
            matricule = (_text(who, f"{{{REC_VIT}}}NumIdentifiant") or "") + (
                _text(who, f"{{{REC_VIT}}}Cle") or ""
            )
            found = self.book.by_vitale(
                matricule,
                _text(element, f"{{{REC_VIT}}}NomNaissance") or "",
                _text(element, f"{{{REC_VIT}}}DateNaissance") or "",
            )
        if not found:
            return "01", None
        if len(found) > 1:
            return "02", None
        return "00", found[0]

    async def handle(self, request: Request) -> Response:
        """One SOAP call."""
        started = asyncio.get_running_loop().time()
        content = await request.body()
        if self.behaviour.keep_requests:
            self.behaviour.received.append(content)
            self.behaviour.client_cns.append(_client_cn(request))
        dialect, message_id = self.behaviour.dialect, None
        try:
            if not request.headers.get("content-type", "").startswith("application/soap+xml"):
                raise Rejected("malformed")
            try:
                root = etree.fromstring(content, _PARSER)
            except etree.XMLSyntaxError:
                raise Rejected("malformed") from None
            element, action, message_id = self.check(request, root)
            code, person = self.answer(element)
            answer = soap.resultat(code, person, dialect, action, message_id)  # built before the wait
            await self._inject_global(started)
            if person is not None:
                await self._inject_persona(person)
        except Rejected as rejected:
            return _soap(soap.fault(rejected.kind, dialect, message_id), 500)
        return _soap(answer, 200)

    async def _inject_global(self, started: float) -> None:
        """The configured latency, then a fault at the configured rate.

        The latency is the time from the request to the answer: the simulator's own work (parsing,
        checking, building the answer) is taken out of the wait, so that a loaded simulator still
        answers in the configured time and measurements of a client are not skewed by it.
        """
        b = self.behaviour
        if b.latency_ms:
            remaining = b.latency_ms / 1000 - (asyncio.get_running_loop().time() - started)
            await asyncio.sleep(max(remaining, 0.0))
        if b.fault_rate and self.random.random() < b.fault_rate:
            await self._fault(b.fault_kind)

    async def _inject_persona(self, person: Persona) -> None:
        """The person's own latency and scripted fault."""
        if person.latency_ms:
            await asyncio.sleep(person.latency_ms / 1000)
        if person.fault is not None:
            await self._fault(person.fault)

    async def _fault(self, kind: str) -> None:
        """Answer a fault; a "timeout" first keeps the caller waiting."""
        if kind == "timeout":
            await asyncio.sleep(self.behaviour.hang_seconds)
            raise Rejected("unavailable")
        raise Rejected(kind)


def _soap(content: bytes, status: int) -> Response:
    return Response(content, status_code=status, media_type="application/soap+xml; charset=utf-8")


def create_simulator_app(
    personas: Path | None = None, behaviour: Behaviour | None = None, path: str = "/lps"
) -> Starlette:
    """The simulator's ASGI app; ``app.state.behaviour`` and ``app.state.book`` stay reachable."""
    simulator = Simulator(PersonaBook.load(personas), behaviour or Behaviour())
    app = Starlette(routes=[Route(path, simulator.handle, methods=["POST"])])
    app.state.behaviour = simulator.behaviour
    app.state.book = simulator.book
    app.state.simulator = simulator
    return app
