"""Shared builders for the MSSanté packaging tests: identities, metadata, settings, a sample PDF."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.identifiers import Authority
from app.domain.identity import Identity
from app.domain.ins import OID_NIR_TEST, Ins, InsRecord
from app.domain.mssante import Action, MssPolicy
from app.domain.status import IdentityState, Status
from app.domain.traits import Traits
from app.domain.xds import DEFAULT_DOCUMENT_KINDS, Author, DocumentMetadata, Establishment
from app.integrations.mssante.xdm import XdmPackage, build_xdm
from tests.documents_support import sample_pdf, traits

MATRICULE = "277010115400329"
IPP = "000012345"
IPP_OID = "1.2.250.1.71.4.2.2.999"
ESTABLISHMENT = Establishment(
    name="CH de Démonstration",
    finess="010000024",
    source_oid="1.2.250.1.71.4.2.2.999.1",
    ipp_oid=IPP_OID,
    software="Identito",
    software_version="1.0",
    contact="dsi@ch-demo.mssante.fr",
)
CREATED = datetime(2026, 11, 30, 9, 15, 0, tzinfo=UTC)
SUBMITTED = datetime(2026, 11, 30, 9, 20, 42, tzinfo=UTC)
PDF = sample_pdf(2, title="Lettre de liaison")


def identity(
    status: Status = Status.QUAL,
    *,
    the_traits: Traits | None = None,
    oid: str = OID_NIR_TEST,
    with_ins: bool = True,
    authority: Authority | None = None,
) -> Identity:
    """An identity in ``status``, holding the test INS when it may (RECUP and QUAL)."""
    state = IdentityState.of(status)
    records = (InsRecord(Ins.of(MATRICULE, oid), True, "INSI"),) if with_ins and state.insi else ()
    return Identity(
        id=7,
        ipp=IPP,
        traits=the_traits or traits(used_name="MARTIN"),
        state=state,
        version=1,
        ins_records=records,
        ipp_authority=authority or Authority(),
    )


def metadata(**changes: object) -> DocumentMetadata:
    """Metadata of a discharge letter, with changes."""
    values: dict[str, object] = {
        "title": "Lettre de liaison de sortie",
        "kind": "discharge-letter",
        "created_at": CREATED,
        "author": Author(family="DOCTEUR", given="Jean", rpps="10001234567"),
        "action": Action.SEND,
    }
    values.update(changes)
    return DocumentMetadata(**values)  # type: ignore[arg-type]


def package(
    the_identity: Identity | None = None,
    pdf: bytes = PDF,
    *,
    exemption: bool = False,
    cda: bool = False,
    seed: str | None = "seed-1",
    **changes: object,
) -> XdmPackage:
    """A package of the sample PDF for a QUAL identity unless told otherwise."""
    policy = MssPolicy.of(["mssante.fr"], unqualified_exemption=exemption)
    max_bytes = int(changes.pop("max_bytes", 20 * 1024 * 1024))  # type: ignore[call-overload]
    pdf_parsed = bool(changes.pop("pdf_parsed", False))
    return build_xdm(
        pdf,
        the_identity or identity(),
        metadata(**changes),
        establishment=ESTABLISHMENT,
        policy=policy,
        kinds=DEFAULT_DOCUMENT_KINDS,
        submitted_at=SUBMITTED,
        cda=cda,
        seed=seed,
        max_bytes=max_bytes,
        pdf_parsed=pdf_parsed,
    )
