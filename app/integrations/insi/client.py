"""The INSi client: implements the ``InsiGateway`` port with zeep (SOAP 1.2) over httpx.

zeep builds the body from the WSDL (the project's own under wsdl/, or the official files when
``insi.wsdl_path`` points at them); the client adds the four headers, posts through the channel of
the call's credential within the call deadline, and reads the answer by namespace. Every wire call
is reported to the observer (the journal), answers and errors alike.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zeep
import zeep.exceptions
from lxml import etree

from app.config import InsiSettings
from app.domain.errors import InvalidTrait
from app.domain.ins import Ins
from app.domain.insi import (
    CallContext,
    InsiAnswer,
    InsiCallObserver,
    InsiCallRecord,
    InsiConfigurationError,
    InsiError,
    InsiOperation,
    Matricule,
    ResolvedSearch,
    TraitsQuery,
    Verification,
    VitaleQuery,
)
from app.domain.insi_rules import (
    check_traits_query,
    check_vitale_query,
    compare_verification,
    query_from_traits,
    resolve_several,
)
from app.domain.traits import Traits
from app.integrations.insi import headers as hdr
from app.integrations.insi.credentials import Credential, RelayedAssertion
from app.integrations.insi.installation import installation_instance, journal_hash_key
from app.integrations.insi.ns import ACTIONS, PORT, SERVICE, SOAP12
from app.integrations.insi.parsing import parse_response
from app.integrations.insi.saml import parse_xml
from app.integrations.insi.templates import RequestTemplates, Slots
from app.integrations.insi.transport import LocalHttpxTransport, Timeouts, post_with_deadline
from app.integrations.insi.wiring import Credentials

logger = logging.getLogger(__name__)

DEFAULT_WSDL = Path(__file__).resolve().parents[3] / "wsdl" / "insi.wsdl"


def _matricule(value: Matricule) -> dict[str, str]:
    data = {"NumIdentifiant": value.number, "Cle": value.key}
    if value.kind:
        data["TypeMatricule"] = value.kind
    return data


class InsiClient:
    """The INSi teleservice over SOAP 1.2 (implements ``app.domain.insi.InsiGateway``)."""

    def __init__(
        self,
        settings: InsiSettings,
        var_dir: Path,
        credentials: Credentials,
        *,
        observer: InsiCallObserver | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings, self.credentials, self.observer, self.clock = settings, credentials, observer, clock
        self.timeouts = Timeouts(
            settings.connect_timeout_seconds, settings.read_timeout_seconds, settings.timeout_seconds
        )
        self.software = hdr.Software(
            settings.idam, settings.software_version, installation_instance(var_dir), settings.software_name
        )
        self._hash_key = journal_hash_key(var_dir)
        self.channels = credentials.http_clients(settings.http_max_connections)
        transport = LocalHttpxTransport(self.channels[credentials.default_channel], self.timeouts)
        wsdl = settings.wsdl_path or DEFAULT_WSDL
        try:
            self._zeep = zeep.Client(  # type: ignore[no-untyped-call]
                str(wsdl), transport=transport, settings=zeep.Settings(forbid_dtd=True)
            )
        except (zeep.exceptions.Error, etree.XMLSyntaxError) as exc:
            raise InsiConfigurationError(detail="the WSDL {file} cannot be used",
                                         file=Path(str(wsdl)).name) from exc
        try:
            self._service = self._zeep.bind(SERVICE, PORT)
        except (ValueError, KeyError):
            self._service = self._zeep.service
        self._templates = RequestTemplates(self.render_request)

    # ---- the gateway -------------------------------------------------------------------------

    def search_by_traits(self, query: TraitsQuery, context: CallContext) -> InsiAnswer:
        """rechercherInsAvecTraitsIdentite, after checking the traits are sendable."""
        check_traits_query(query)
        body: dict[str, Any] = {
            "NomNaissance": query.birth_name,
            "Prenom": list(query.first_names),
            "Sexe": query.sex,
            "DateNaissance": query.birth_date.isoformat(),
        }
        if query.birth_place_code:
            body["LieuNaissance"] = query.birth_place_code
        return self._call(InsiOperation.TRAITS, body, context, self._hash(repr(query)))

    def search_by_vitale(self, query: VitaleQuery, context: CallContext) -> InsiAnswer:
        """rechercherInsAvecCarteVitale, with the Vitale assertion placed next to the holder's."""
        check_vitale_query(query)
        if not query.vitale_assertion:
            raise InvalidTrait("insi-assertion-invalid", field="vitale_assertion", reason="missing")
        vitale_element = parse_xml(query.vitale_assertion, "vitale_assertion")
        body: dict[str, Any] = {
            "MatriculeOD": _matricule(query.insured),
            "NomNaissance": query.birth_name,
            "DateNaissance": query.birth_date,
            "RangNaissance": str(query.birth_rank),
        }
        if query.beneficiary is not None:
            body["MatriculeIndividu"] = _matricule(query.beneficiary)
        digest = self._hash(repr((query.insured, query.beneficiary, query.birth_name, query.birth_date)))
        return self._call(InsiOperation.VITALE, body, context, digest, vitale=query, extra=[vitale_element])

    # ---- workflows helpers -------------------------------------------------------------------

    def verify_ins(self, traits: Traits, ins: Ins, context: CallContext) -> Verification:
        """Verify a stored INS: traits search with the stored traits, then strict comparison."""
        query = query_from_traits(traits, all_first_names=True, with_place=True)
        return compare_verification(traits, ins, self.search_by_traits(query, context))

    def resolve_several(self, traits: Traits, context: CallContext) -> ResolvedSearch:
        """The CR 02 strategy: first name, then every birth first name, then the birth place."""
        return resolve_several(lambda query: self.search_by_traits(query, context), traits)

    # ---- internals ---------------------------------------------------------------------------

    def _hash(self, text: str) -> str:
        return hmac.new(self._hash_key, text.encode(), hashlib.sha256).hexdigest()

    def _credential(self, context: CallContext) -> Credential:
        if context.relayed_assertion is not None:
            return RelayedAssertion(context.relayed_assertion, self.clock())
        return self.credentials.for_purpose(context.purpose)

    def _endpoint(self, credential: Credential) -> str:
        if credential.channel in self.credentials.tls_client_channels:
            return self.settings.endpoint
        return self.settings.card_endpoint or self.settings.endpoint

    def build_request(
        self,
        operation: InsiOperation,
        body: dict[str, Any],
        credential: Credential,
        message_id: str,
        vitale: VitaleQuery | None = None,
        extra: list[etree._Element] | None = None,
    ) -> bytes:
        """The whole SOAP request: zeep's envelope and body, our four headers.

        A call without a signed assertion or Carte Vitale data reuses the envelope zeep rendered
        for the previous call of its shape (see ``templates``); the bytes are the same.
        """
        slots = Slots(
            message_id, hdr.timestamp(self.clock()), hdr.new_context_id(), hdr.new_context_id()
        )
        assertions = [*credential.assertions(), *(extra or [])]
        if not assertions and vitale is None:
            content = self._templates.request(operation, body, credential.emitter, slots)
            if content is not None:
                return content
        return self.render_request(operation, body, credential.emitter, slots, vitale, assertions)

    def render_request(
        self,
        operation: InsiOperation,
        body: dict[str, Any],
        emitter: str,
        slots: Slots,
        vitale: VitaleQuery | None = None,
        assertions: list[etree._Element] | None = None,
    ) -> bytes:
        """Render a request in full with zeep and lxml."""
        try:
            envelope = self._zeep.create_message(self._service, operation.value, **body)  # type: ignore[no-untyped-call]
        except (zeep.exceptions.Error, ValueError, TypeError, AttributeError) as exc:
            raise InsiConfigurationError(detail="the WSDL does not describe {operation}",
                                         operation=operation.value) from exc
        headers = [
            hdr.contexte_lps(self.software, emitter, slots.temps, slots.lps_id),
            hdr.contexte_bam(emitter, slots.temps, slots.bam_id, vitale),
            *hdr.addressing(operation, slots.message_id),
        ]
        security = hdr.security(assertions or [])
        if security is not None:
            headers.append(security)
        hdr.install_headers(envelope, SOAP12, headers)
        return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))

    def _call(
        self,
        operation: InsiOperation,
        body: dict[str, Any],
        context: CallContext,
        traits_hash: str,
        *,
        vitale: VitaleQuery | None = None,
        extra: list[etree._Element] | None = None,
    ) -> InsiAnswer:
        credential = self._credential(context)
        message_id = hdr.new_message_id()
        started, at = time.perf_counter(), self.clock()
        content = self.build_request(operation, body, credential, message_id, vitale, extra)
        http_headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{ACTIONS[operation]}"'}
        try:
            raw = post_with_deadline(
                self.channels[credential.channel],
                self._endpoint(credential),
                content,
                http_headers,
                self.timeouts,
            )
            answer = parse_response(raw, message_id)
        except InsiError as exc:
            self._record(operation, credential, context, at, started, message_id, traits_hash, error=exc)
            raise
        self._record(operation, credential, context, at, started, message_id, traits_hash, answer=answer)
        return answer

    def _record(
        self,
        operation: InsiOperation,
        credential: Credential,
        context: CallContext,
        at: datetime,
        started: float,
        message_id: str,
        traits_hash: str,
        *,
        answer: InsiAnswer | None = None,
        error: InsiError | None = None,
    ) -> None:
        duration_ms = (time.perf_counter() - started) * 1000
        outcome = answer.code.value if answer is not None else error.journal_code  # type: ignore[union-attr]
        logger.info("insi call %s %s -> %s in %.0f ms", message_id, operation.value, outcome, duration_ms)
        if self.observer is None:
            return
        self.observer(
            InsiCallRecord(
                at=at,
                operation=operation,
                credential_mode=credential.mode,
                emitter=credential.emitter,
                requested_by=context.requested_by,
                identity_id=context.identity_id,
                outcome=outcome,
                error_category=error.category if error is not None else None,
                duration_ms=duration_ms,
                message_id=message_id,
                traits_hash=traits_hash,
                purpose=context.purpose,
            )
        )

    def close(self) -> None:
        """Close the HTTP clients."""
        for client in self.channels.values():
            client.close()
