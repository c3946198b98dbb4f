"""``GET /fhir/metadata``: the CapabilityStatement, exactly what this server supports."""

from __future__ import annotations

from typing import Any

from app import __version__
from app.domain import fhir_codes as fc

_PARAMS = [
    ("_id", "token", "Logical id (the identity id); OR with commas"),
    ("active", "token", "false: identities merged into another (found by _id or identifier only)"),
    ("family", "string", "Birth name or used name; starts with, accents/case/hyphens/apostrophes/"
                         "spaces ignored; :exact compares the whole name (same normalisation)"),
    ("given", "string", "Any birth first name or the used first name, starts with; :exact a whole one"),
    ("birthdate", "date", "YYYY, YYYY-MM or YYYY-MM-DD (eq only); partial stored dates found too"),
    ("gender", "token", "male, female, unknown (other finds nobody)"),
    ("identifier", "token", "system|value (IPP: the establishment's OID; INS: QUAL identities only), "
                            "value, or system| (domain filter: only identifiers of those domains)"),
]


def capability_statement(ipp_oid: str, base: str) -> dict[str, Any]:
    """What the server supports: Patient read and search (ITI-78), $match (ITI-119), $ihe-pix (ITI-83)."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active", "date": "2026-11-30", "kind": "instance",
        "software": {"name": "Identito", "version": __version__},
        "implementation": {"description": "Identito identity repository, read-only FHIR", "url": base},
        "fhirVersion": "4.0.1", "format": ["json", "xml"],
        "rest": [{
            "mode": "server",
            "documentation": (
                "Read-only. IHE PDQm Patient Demographics Supplier (ITI-78 search by GET and POST _search, "
                "ITI-119 $match), IHE PIXm Patient Identifier Cross-reference Manager (ITI-83 $ihe-pix). "
                f"Patients follow FR Core {fc.FR_VERSION}; the INS only for QUAL identities (RNIV). "
                f"IPP system urn:oid:{ipp_oid}. Unsupported search parameters are refused (400) unless "
                "Prefer: handling=lenient. Paging: _count (max 200) and next links; _total=none skips the "
                "count; _format json|xml."),
            "security": {"cors": False, "description": "OAuth2 bearer tokens (the REST API's)"},
            "resource": [{
                "type": "Patient", "profile": fc.PROFILE_PATIENT,
                "supportedProfile": [fc.PROFILE_PATIENT, fc.PROFILE_PATIENT_INS],
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "versioning": "no-version", "readHistory": False, "updateCreate": False,
                "searchParam": [{"name": n, "type": t, "documentation": d} for n, t, d in _PARAMS],
                "operation": [
                    {"name": "match", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-match",
                     "documentation": "ITI-119: resource, onlyCertainMatches, count; or a bare Patient"},
                    {"name": "ihe-pix",
                     "definition": "https://profiles.ihe.net/ITI/PIXm/OperationDefinition/IHE.PIXm.pix",
                     "documentation": "ITI-83: sourceIdentifier, targetSystem"},
                ],
            }],
        }],
    }
