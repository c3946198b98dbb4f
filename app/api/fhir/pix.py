"""ITI-83 ``$ihe-pix``: from one identifier (an IPP, an INS, an old IPP of a merged identity, a
Patient logical id) to the person's other identifiers, with the PIXm errors."""

from __future__ import annotations

from typing import Any

from app.api.fhir.errors import FhirError
from app.api.fhir.patient import Systems, identifiers
from app.api.fhir.search import whole_number
from app.domain import fhir_codes as fc
from app.domain.identity import Identity
from app.services import fhir
from app.services.context import Actor, ServiceContext

PARAMETERS = ("sourceIdentifier", "targetSystem", "_format")


def _source(pairs: list[tuple[str, str]]) -> tuple[str, str]:
    unknown = next((name for name, _ in pairs if name not in PARAMETERS), None)
    if unknown is not None:
        raise FhirError(400, "not-supported", "fhir-param-unsupported", name=unknown[:40],
                        supported=", ".join(PARAMETERS))
    sources = [value for name, value in pairs if name == "sourceIdentifier"]
    if len(sources) != 1 or "|" not in sources[0]:
        raise FhirError(400, "invalid", "fhir-param-invalid", name="sourceIdentifier", why="system|value")
    system, _, value = sources[0].partition("|")
    if not system or not value:
        raise FhirError(400, "invalid", "fhir-param-invalid", name="sourceIdentifier", why="system|value")
    return system, value


def _targets(pairs: list[tuple[str, str]], systems: Systems) -> list[str]:
    known = {systems.ipp, systems.base_url, *fc.INS_SYSTEMS}
    targets = [t.strip() for name, value in pairs if name == "targetSystem" for t in value.split(",")]
    for target in targets:
        if target not in known:
            raise FhirError(403, "code-invalid", "fhir-domain-unknown", system=target[:80])
    return targets


def _lookup(ctx: ServiceContext, actor: Actor, system: str, value: str,
            systems: Systems) -> list[fhir.PatientRecord]:
    if system == systems.ipp:
        return fhir.cross_reference(ctx, actor, ipp=value, accept=lambda i: i.ipp_authority.own)
    if system in fc.INS_SYSTEMS:
        oid = system.removeprefix("urn:oid:")

        def shows(identity: Identity) -> bool:
            return identity.state.ins_transmissible and any(
                r.ins.matricule == value and r.ins.oid == oid for r in identity.ins_records)

        return fhir.cross_reference(ctx, actor, ins=value, accept=shows) if len(value) == 15 else []
    if system == systems.base_url:
        number = whole_number(value.removeprefix("Patient/"))
        if number is None:
            return []
        return fhir.cross_reference(ctx, actor, identity_id=number)
    raise FhirError(400, "code-invalid", "fhir-source-unknown-domain", system=system[:80])


def cross_reference(ctx: ServiceContext, actor: Actor, pairs: list[tuple[str, str]],
                    systems: Systems) -> dict[str, Any]:
    """The Parameters of ITI-83 (targetIdentifier per business identifier, targetId per Patient)."""
    system, value = _source(pairs)
    targets = _targets(pairs, systems)
    records = _lookup(ctx, actor, system, value, systems)
    if not records:
        raise FhirError(404, "not-found", "fhir-source-not-found")
    seen: set[tuple[str, str]] = {(system, value)}
    parameters: list[dict[str, Any]] = []
    for record in records:
        for identifier in identifiers(record, systems):
            key = (identifier["system"], identifier["value"])
            if key in seen or (targets and key[0] not in targets):
                continue
            seen.add(key)
            parameters.append({"name": "targetIdentifier", "valueIdentifier": identifier})
    if not targets or systems.base_url in targets:  # the open Patient only: a merged one is deprecated
        parameters += [{"name": "targetId", "valueReference": {"reference": f"Patient/{r.identity.id}"}}
                       for r in records if r.identity.active
                       and (system, value) != (systems.base_url, f"Patient/{r.identity.id}")]
    result: dict[str, Any] = {"resourceType": "Parameters"}
    if parameters:
        result["parameter"] = parameters
    return result
