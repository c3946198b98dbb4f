"""The DataMatrix INS payload: build and parse (ANS "DataMatrix INS" v2.2, datamatrix-ins.md).

payload = header + fields; header = "IS" + "01" + 22 zeros; field = identifier + value [+ GS].
A GS (0x1D) follows a variable-length field (S2, S3, S4) only when its value is shorter than the
maximum and it is not the last field. Fields are emitted S1..S7; a reader accepts any order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.domain.errors import DomainError, InvalidMatricule, InvalidTrait
from app.domain.ins import Ins, check_matricule, check_oid
from app.domain.messages import register, register_terms
from app.domain.traits import (
    Sex,
    TraitName,
    Traits,
    normalise_birth_place,
    normalise_first_names,
    normalise_name,
)

GS = "\x1d"
HEADER = "IS" + "01" + "0" * 22
# identifier -> (minimum length, maximum length); fixed when both are equal.
FIELD_LENGTHS: dict[str, tuple[int, int]] = {
    "S1": (15, 15),
    "S2": (19, 20),
    "S3": (1, 100),
    "S4": (1, 100),
    "S5": (1, 1),
    "S6": (10, 10),
    "S7": (5, 5),
}
REQUIRED_FIELDS = ("S1", "S2", "S3", "S4", "S5", "S6")


class InvalidPayload(DomainError):
    """A DataMatrix INS payload that does not follow the specification (HTTP 422)."""

    code = "datamatrix-invalid"


register(
    "datamatrix-invalid",
    "The DataMatrix INS content is invalid: {reason}.",
    "Le contenu du DataMatrix INS est invalide : {reason}.",
)
register(
    "trait-not-ins-profile",
    "{field} is not written in the INS lexical profile",
    "{field} n'est pas écrit selon le profil lexical INS",
)
register_terms({
    "header IS01 missing": "en-tête IS01 absent",
    "missing {fields}": "{fields} absent(s)",
    "unknown field at position {position}": "champ inconnu à la position {position}",
    "field {key} repeated": "champ {key} répété",
    "field {key} has a wrong length": "champ {key} de longueur incorrecte",
    "OID length": "longueur de l'OID incorrecte",
    "sex must be M or F": "le sexe doit être M ou F",
    "birth date must be DD-MM-YYYY": "la date de naissance doit être au format JJ-MM-AAAA",
    "birth date does not exist": "la date de naissance n'existe pas",
}, parameter="reason")


@dataclass(frozen=True, slots=True)
class InsPayload:
    """What a DataMatrix INS carries: the INS and the five INS traits."""

    matricule: str
    oid: str
    first_names: str
    birth_name: str
    sex: Sex
    birth_date: date
    birth_place_code: str | None = None

    @classmethod
    def of(cls, ins: Ins, traits: Traits) -> InsPayload:
        """The payload of an identity's active INS and strict traits."""
        return cls(
            matricule=ins.matricule,
            oid=ins.oid,
            first_names=traits.first_names,
            birth_name=traits.birth_name,
            sex=traits.sex,
            birth_date=traits.birth_date,
            birth_place_code=traits.birth_place_code,
        )

    @property
    def ins(self) -> Ins:
        """The INS carried by the payload."""
        return Ins.of(self.matricule, self.oid)

    def differences(self, traits: Traits) -> list[str]:
        """Names of the printed INS traits that differ from the repository's (sorted)."""
        pairs = {
            TraitName.BIRTH_NAME.value: (self.birth_name, traits.birth_name),
            TraitName.FIRST_NAMES.value: (self.first_names, traits.first_names),
            TraitName.SEX.value: (self.sex, traits.sex),
            TraitName.BIRTH_DATE.value: (self.birth_date, traits.birth_date),
        }
        if self.birth_place_code is not None:
            pairs[TraitName.BIRTH_PLACE_CODE.value] = (self.birth_place_code, traits.birth_place_code)
        return sorted(name for name, (printed, stored) in pairs.items() if printed != stored)


def _checked_values(payload: InsPayload) -> dict[str, str]:
    """Field values of a payload, each checked against its format (datamatrix-ins.md table)."""
    values = {
        "S1": _check_s1(payload.matricule),
        "S2": _check_s2(payload.oid),
        "S3": _check_profile(payload.first_names, TraitName.FIRST_NAMES),
        "S4": _check_profile(payload.birth_name, TraitName.BIRTH_NAME),
        "S5": _check_sex(payload.sex),
        "S6": payload.birth_date.strftime("%d-%m-") + f"{payload.birth_date.year:04d}",
    }
    if payload.birth_place_code is not None:
        values["S7"] = normalise_birth_place(payload.birth_place_code)
    return values


def build_payload(payload: InsPayload) -> str:
    """Serialise a payload: header, S1..S7, GS only after a short variable field not last."""
    values = _checked_values(payload)
    order = [key for key in FIELD_LENGTHS if key in values]
    parts = [HEADER]
    for index, key in enumerate(order):
        value = values[key]
        low, high = FIELD_LENGTHS[key]
        parts.append(key + value)
        if low != high and len(value) < high and index < len(order) - 1:
            parts.append(GS)
    return "".join(parts)


def parse_payload(text: str) -> InsPayload:
    """Parse a payload whatever the order of its fields, checking every value."""
    if not isinstance(text, str) or not text.startswith(HEADER):
        raise InvalidPayload(reason="header IS01 missing")
    fields = _split_fields(text[len(HEADER) :])
    missing = [key for key in REQUIRED_FIELDS if key not in fields]
    if missing:
        raise InvalidPayload(reason="missing {fields}", fields=", ".join(missing))
    try:
        return InsPayload(
            matricule=_check_s1(fields["S1"]),
            oid=_check_s2(fields["S2"]),
            first_names=_check_profile(fields["S3"], TraitName.FIRST_NAMES),
            birth_name=_check_profile(fields["S4"], TraitName.BIRTH_NAME),
            sex=_check_sex(fields["S5"]),
            birth_date=_parse_date(fields["S6"]),
            birth_place_code=(normalise_birth_place(fields["S7"]) if "S7" in fields else None),
        )
    except InvalidPayload:
        raise
    except InvalidTrait as error:
        raise InvalidPayload(reason=error) from None


def _split_fields(body: str) -> dict[str, str]:
    """Cut the body into identifier -> value, honouring fixed lengths and GS separators."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(body):
        if body[position] == GS:  # tolerate a separator after a fixed field
            position += 1
            continue
        key = body[position : position + 2]
        if key not in FIELD_LENGTHS:
            raise InvalidPayload(
                reason="unknown field at position {position}", position=len(HEADER) + position
            )
        if key in fields:
            raise InvalidPayload(reason="field {key} repeated", key=key)
        low, high = FIELD_LENGTHS[key]
        start = position + 2
        window = body[start : start + high]
        cut = window.find(GS) if low != high else -1
        value = window[:cut] if cut >= 0 else window
        if not low <= len(value) <= high:
            raise InvalidPayload(reason="field {key} has a wrong length", key=key)
        fields[key] = value
        position = start + len(value) + (1 if cut >= 0 else 0)
    return fields


def _check_s1(value: str) -> str:
    try:
        checked = check_matricule(value)
    except InvalidMatricule as error:
        raise InvalidPayload(reason=error) from None
    if checked != value:
        raise InvalidPayload(reason=InvalidMatricule("matricule-shape"))
    return checked


def _check_s2(value: str) -> str:
    if not 19 <= len(value) <= 20:
        raise InvalidPayload(reason="OID length")
    try:
        check_oid(value)
    except InvalidMatricule as error:
        raise InvalidPayload(reason=error) from None
    return value


def _check_profile(value: str, trait: TraitName) -> str:
    """Printed names must already be in the INS lexical profile (no normalisation on the fly)."""
    if trait is TraitName.FIRST_NAMES:
        normalised = normalise_first_names(value)
    else:
        normalised = normalise_name(value, trait)
    if normalised != value:
        raise InvalidPayload(reason=InvalidTrait("trait-not-ins-profile", field=trait.value))
    return value


def _check_sex(value: str) -> Sex:
    if value not in (Sex.M.value, Sex.F.value):
        raise InvalidPayload(reason="sex must be M or F")
    return Sex(value)


def _parse_date(value: str) -> date:
    """S6 is DD-MM-YYYY with hyphens."""
    day, month, year = value[0:2], value[3:5], value[6:10]
    if value[2:3] != "-" or value[5:6] != "-" or not (day + month + year).isdigit():
        raise InvalidPayload(reason="birth date must be DD-MM-YYYY")
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise InvalidPayload(reason="birth date does not exist") from None


def show_separators(payload: str) -> str:
    """The payload with each GS written as <GS> (for display and text downloads)."""
    return payload.replace(GS, "<GS>")
