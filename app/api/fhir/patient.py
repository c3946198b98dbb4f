"""An identity as a FR Core Patient (FR Core 2.2.0; the mapping is ``docs/fhir.md``).

Plain dicts (serialised once); the tests parse every one with ``fhir.resources`` (R4B). The INS
identifiers, the INS profile and the historic INS appear only for a QUAL identity, whoever asks
(RNIV EXI SI 08): the ``documents`` role sees no more and no less than the others here.
"""

from __future__ import annotations

from typing import Any

from app.db.fhir_reads import AbsorbedIpp
from app.domain import fhir_codes as fc
from app.domain.identifiers import Authority
from app.domain.identity import Identity
from app.domain.ins import InsRecord
from app.services.fhir import PatientRecord

JsonDict = dict[str, Any]


class Systems:
    """The identifier systems of this establishment (its IPP OID from the settings)."""

    def __init__(self, ipp_oid: str, base_url: str) -> None:
        self.ipp = f"urn:oid:{ipp_oid}"
        self.base_url = base_url.rstrip("/")

    def of_authority(self, authority: Authority) -> str:
        """The system of an IPP: the establishment's OID, or the sending authority's."""
        if authority.own:
            return self.ipp
        if authority.universal_id and authority.universal_id_type.upper() in ("ISO", ""):
            return f"urn:oid:{authority.universal_id}"
        return authority.universal_id or f"urn:identito:authority:{authority.namespace}"


def ipp_identifier(system: str, value: str, use: str) -> JsonDict:
    """The PI slice: type v2-0203#PI, the domain's system, use usual (live) or old (merged away)."""
    return {"use": use, "type": {"coding": [{"system": fc.CS_V2_0203, "code": "PI"}]},
            "system": system, "value": value}


def ins_identifier(record: InsRecord) -> JsonDict:
    """An INS slice: FR Core type by OID, use official (active) or old (history)."""
    code = fc.INS_TYPE[record.ins.oid]
    return {"use": "official" if record.active else "old",
            "type": {"coding": [{"system": fc.CS_FR_V2_0203, "code": code}]},
            "system": f"urn:oid:{record.ins.oid}", "value": record.ins.matricule}


def identifiers(record: PatientRecord, systems: Systems) -> list[JsonDict]:
    """The IPP (old once merged away), the IPPs merged into it (old), the INS only for QUAL."""
    identity = record.identity
    found = [ipp_identifier(systems.of_authority(identity.ipp_authority), identity.ipp,
                            "usual" if identity.active else "old")]
    found += [_absorbed(old, systems) for old in record.old_ipps]
    if identity.state.ins_transmissible:
        records = sorted(identity.ins_records, key=lambda r: not r.active)
        found += [ins_identifier(r) for r in records if r.ins.oid in fc.INS_TYPE]
    return found


def _absorbed(old: AbsorbedIpp, systems: Systems) -> JsonDict:
    return ipp_identifier(systems.of_authority(Authority.parse(old.authority)), old.ipp, "old")


def names(identity: Identity) -> list[JsonDict]:
    """Birth name (official, first birth first name, all of them in the extension), used name (usual)."""
    t = identity.traits
    official: JsonDict = {
        "extension": [{"url": fc.EXT_BIRTH_LIST_GIVEN, "valueString": t.first_names}],
        "use": "official", "family": t.birth_name, "given": [t.first_name],
    }
    found = [official]
    if t.used_name or t.used_first_name:
        found.append({"use": "usual", "family": t.used_name or t.birth_name,
                      "given": [t.used_first_name or t.first_name]})
    return found


def reliability(record: PatientRecord) -> JsonDict:
    """The identity-reliability extension: status, marks, collection method, INSi and validation."""
    identity = record.identity
    parts: list[JsonDict] = [{"url": "identityStatus", "valueCoding": {
        "system": fc.CS_IDENTITY_STATUS, "code": fc.IDENTITY_STATUS[identity.status]}}]
    parts += [{"url": "comment", "valueCodeableConcept": {"coding": [
        {"system": fc.CS_STATUS_COMMENT, "code": fc.STATUS_COMMENT[a]}]}}
        for a in sorted(identity.attributes)]
    parts.append({"url": "methodCollection", "valueCoding": {"system": fc.CS_METHOD_COLLECTION,
                                                             "code": identity.source}})
    if identity.insi_at is not None and identity.state.insi:
        parts.append({"url": "dateInterrogationINSi", "valueDate": identity.insi_at.date().isoformat()})
    validation = record.validation
    if validation is not None and identity.state.document:
        mode = next((code for doc, code in fc.VALIDATION_MODE.items() if doc.value == validation.type), None)
        parts.append({"url": "validationDate", "valueDate": validation.checked_at.date().isoformat()})
        if mode is not None and (mode in fc.VALIDATION_MODE_INS or not ins_profile(identity)):
            parts.append({"url": "validationMode", "valueCoding": {"system": fc.CS_VALIDATION_MODE,
                                                                   "code": mode}})
    return {"url": fc.EXT_RELIABILITY, "extension": parts}


def ins_profile(identity: Identity) -> bool:
    """Whether the Patient claims the INS profile: an INS is shown (QUAL only, RNIV EXI SI 08)."""
    return identity.state.ins_transmissible and any(
        r.active and r.ins.oid in fc.INS_TYPE for r in identity.ins_records)


def birth_place(code: str) -> JsonDict:
    """The birth place with its INSEE COG code (fr-core-address-insee-code)."""
    coding = {"system": fc.CS_INSEE_COMMUNE, "code": code}
    return {"url": fc.EXT_BIRTH_PLACE,
            "valueAddress": {"extension": [{"url": fc.EXT_INSEE_CODE, "valueCoding": coding}]}}


def patient(record: PatientRecord, systems: Systems) -> JsonDict:
    """The FR Core Patient of a record (FR Core Patient-INS profile when the INS is shown)."""
    identity = record.identity
    shown = identifiers(record, systems)
    profiles = [fc.PROFILE_PATIENT]
    if ins_profile(identity):
        profiles.append(f"{fc.PROFILE_PATIENT_INS}|{fc.FR_VERSION}")
    extensions = [reliability(record)]
    if identity.traits.birth_place_code:
        extensions.append(birth_place(identity.traits.birth_place_code))
    resource: JsonDict = {
        "resourceType": "Patient", "id": str(identity.id),
        "meta": {"versionId": str(identity.version), "profile": profiles},
        "extension": extensions, "identifier": shown, "active": identity.active,
        "name": names(identity), "gender": fc.GENDER[identity.traits.sex],
        "birthDate": identity.traits.birth_date.isoformat(),
    }
    links = [{"other": {"reference": f"Patient/{other}"}, "type": "seealso"} for other in record.linked]
    if not identity.active and identity.merged_into:
        links.insert(0, {"other": {"reference": f"Patient/{identity.merged_into}"}, "type": "replaced-by"})
    if links:
        resource["link"] = links
    return resource
