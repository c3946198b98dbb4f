"""FR Core 2.2.0 codes and addresses of the FHIR Patient view of an identity (pure tables).

The mapping is ``/work/shared/spec/fhir-fr-core.md``; where the FR Core builds disagree it follows
the main line (§9). Kept as tables so that a code list can follow FR Core when a build settles.
"""

from __future__ import annotations

from app.domain.documents import DocumentType
from app.domain.ins import OID_NIA, OID_NIR, OID_NIR_DEMO, OID_NIR_TEST
from app.domain.status import Attribute, Status
from app.domain.traits import Sex

FR = "https://hl7.fr/ig/fhir/core/"
FR_VERSION = "2.2.0-ballot-2"
PROFILE_PATIENT = FR + "StructureDefinition/fr-core-patient"
PROFILE_PATIENT_INS = FR + "StructureDefinition/fr-core-patient-ins"
EXT_RELIABILITY = FR + "StructureDefinition/fr-core-identity-reliability"
EXT_BIRTH_LIST_GIVEN = FR + "StructureDefinition/fr-core-patient-birth-list-given-name"
EXT_INSEE_CODE = FR + "StructureDefinition/fr-core-address-insee-code"
EXT_BIRTH_PLACE = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
EXT_MATCH_GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"
CS_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
CS_FR_V2_0203 = FR + "CodeSystem/fr-core-cs-v2-0203"
CS_IDENTITY_STATUS = FR + "CodeSystem/fr-core-cs-identity-status"  # main line (§9), not in ballot-2
CS_STATUS_COMMENT = FR + "CodeSystem/fr-core-cs-identity-status-comment"  # main line (§9)
CS_METHOD_COLLECTION = FR + "CodeSystem/fr-core-cs-method-collection"
CS_VALIDATION_MODE = FR + "CodeSystem/fr-core-cs-mode-validation-identity"
CS_INSEE_COMMUNE = "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM"
CS_MATCH_GRADE = "http://terminology.hl7.org/CodeSystem/match-grade"  # FHIR R4 match-grade codes
RFC_3986 = "urn:ietf:rfc:3986"
INS_SYSTEMS = {f"urn:oid:{oid}" for oid in (OID_NIR, OID_NIA, OID_NIR_TEST, OID_NIR_DEMO)}

# INS OID -> FR Core identifier type code (fr-core-cs-v2-0203), spec §2.
INS_TYPE: dict[str, str] = {
    OID_NIR: "INS-NIR",
    OID_NIA: "INS-NIA",
    OID_NIR_TEST: "INS-NIR-TEST",
    OID_NIR_DEMO: "INS-NIR-DEMO",
}

# RNIV status -> identityStatus code. QUAL is QUAL of the main line's fr-core-cs-identity-status, not
# VALI of table 0445: in the RNIV model VALI is validated WITHOUT INSi and never carries an INS (§6, §9).
IDENTITY_STATUS: dict[Status, str] = {
    Status.PROV: "PROV",
    Status.RECUP: "RECUP",
    Status.VALI: "VALI",
    Status.QUAL: "QUAL",
}

# RNIV attributes -> identity-status comment codes (main line, §9).
STATUS_COMMENT: dict[Attribute, str] = {
    Attribute.DOUT: "DOUT",
    Attribute.FICT: "FICT",
    Attribute.HOMA: "HOMA",
}

# Identity document checked -> validationMode (ballot-2 fr-core-cs-mode-validation-identity, §5, §8).
VALIDATION_MODE: dict[DocumentType, str] = {doc: doc.value for doc in DocumentType}
# The INS profile rebinds validationMode (required) to fr-core-vs-mode-validation-identity-ins: PA CN AN LE.
# A Patient that claims it carries no other code (CS, IE... are high-trust for the RNIV, not for this
# value set): the validation date stays, the mode is left out (docs/fhir.md).
VALIDATION_MODE_INS = frozenset({"PA", "CN", "AN", "LE"})

GENDER: dict[Sex, str] = {Sex.M: "male", Sex.F: "female", Sex.U: "unknown"}
SEX_OF_GENDER: dict[str, Sex] = {v: k for k, v in GENDER.items()}

