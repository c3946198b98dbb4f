"""User-facing messages of domain errors, in French and English.

Messages are written for the person at the desk: what is wrong and what to do. The language is a
setting (``IDENTITO_LANGUAGE``); codes are stable and never translated.
"""

from __future__ import annotations

from typing import Any

TRAIT_LABELS: dict[str, tuple[str, str]] = {
    "birth_name": ("birth name", "nom de naissance"),
    "first_names": ("birth first names", "prénoms de naissance"),
    "first_name": ("first birth first name", "premier prénom de naissance"),
    "used_name": ("used name", "nom utilisé"),
    "used_first_name": ("used first name", "prénom utilisé"),
    "birth_date": ("birth date", "date de naissance"),
    "sex": ("sex", "sexe"),
    "birth_place_code": ("birth place", "lieu de naissance"),
    "matricule": ("matricule INS", "matricule INS"),
    "oid": ("INS OID", "OID de l'INS"),
    "type": ("document type", "type de justificatif"),
    "expires_on": ("expiry date", "date d'expiration"),
    # Other request fields, as validation errors name them.
    "ipp": ("IPP", "IPP"),
    "ins": ("matricule INS", "matricule INS"),
    "status": ("status", "statut"),
    "reason": ("reason", "motif"),
    "exact": ("exact", "recherche exacte"),
    "limit": ("limit", "nombre de résultats"),
    "offset": ("offset", "décalage"),
    "resolution": ("resolution", "résolution"),
    "body": ("request body", "corps de la requête"),
}

# Words and reasons that messages embed as parameters: (parameter or None for any, English text)
# -> French text. Looked up for the parameters named in TERM_PARAMETERS only (never for values a
# user typed); the English text is the parameter's value itself.
TERMS: dict[tuple[str | None, str], str] = {}
TERM_PARAMETERS = frozenset({"what", "why", "reason", "detail", "state", "status", "action", "missing"})

# code -> (English, French); {field} is the trait label, other names are the error's params.
MESSAGES: dict[str, tuple[str, str]] = {
    "trait-not-text": ("{field} must be text.", "{field} : une chaîne de caractères est attendue."),
    "trait-empty": ("{field} is empty.", "{field} est vide."),
    "trait-too-long": (
        "{field} is longer than {max} characters.",
        "{field} dépasse {max} caractères.",
    ),
    "trait-ligature": (
        "{field} contains the ligature {char}: type it as {suggestion} after checking the document.",
        "{field} contient la ligature {char} : saisissez {suggestion} après vérification du justificatif.",
    ),
    "trait-digit": ("{field} may not contain digits.", "{field} ne peut pas contenir de chiffres."),
    "trait-forbidden-char": (
        "{field} contains the forbidden character '{char}' (letters, space, hyphen and apostrophe only).",
        "{field} contient le caractère interdit « {char} » (lettres, espace, tiret et apostrophe "
        "uniquement).",
    ),
    "trait-bad-edge": (
        "{field} may not start or end with a space, hyphen or apostrophe.",
        "{field} ne peut pas commencer ni finir par un espace, un tiret ou une apostrophe.",
    ),
    "trait-doubled-punctuation": (
        "{field} contains doubled or adjacent separators (only a double hyphen is allowed, in names).",
        "{field} contient des séparateurs doublés ou accolés (seul le double tiret est admis, "
        "dans les noms).",
    ),
    "first-name-not-in-list": (
        "The first birth first name must be the first of the birth first names.",
        "Le premier prénom doit être le premier des prénoms de naissance.",
    ),
    "reason-required": (
        "A reason is required for this change ({why}).",
        "Un motif est obligatoire pour cette modification ({why}).",
    ),
    "sex-invalid": ("Sex must be M, F or U.", "Le sexe doit être M, F ou U."),
    "birth-place-shape": (
        "Birth place must be a 5-character INSEE code (2A/2B for Corsica, 99xxx abroad).",
        "Le lieu de naissance doit être un code INSEE de 5 caractères (2A/2B pour la Corse, "
        "99xxx à l'étranger).",
    ),
    "birth-place-unknown": (
        "Birth place code is not in the configured INSEE code list.",
        "Le code du lieu de naissance est absent de la liste INSEE configurée.",
    ),
    "birth-date-format": (
        "Birth date must be YYYY-MM-DD, YYYY-MM or YYYY.",
        "La date de naissance doit être au format AAAA-MM-JJ, AAAA-MM ou AAAA.",
    ),
    "birth-date-invalid": ("Birth date does not exist.", "La date de naissance n'existe pas."),
    "birth-date-too-old": (
        "Birth date before {year} is refused.",
        "Une date de naissance antérieure à {year} est refusée.",
    ),
    "birth-date-future": (
        "Birth date is in the future.",
        "La date de naissance est dans le futur.",
    ),
    "matricule-length": (
        "A matricule INS has 15 characters (13 + a 2-digit key).",
        "Un matricule INS comporte 15 caractères (13 + une clé de 2 chiffres).",
    ),
    "matricule-shape": (
        "The matricule INS is malformed.",
        "Le matricule INS est mal formé.",
    ),
    "matricule-key": (
        "The key of the matricule INS is wrong: check the number.",
        "La clé du matricule INS est fausse : vérifiez le numéro.",
    ),
    "oid-unknown": (
        "Unknown INS authority OID {oid}.",
        "OID d'autorité INS inconnu {oid}.",
    ),
    "oid-ins-c": (
        "The INS-C (computed INS) is obsolete and cannot be stored as an INS.",
        "L'INS-C (INS calculé) est obsolète et ne peut pas être enregistré comme INS.",
    ),
    "attributes-dout-fict": (
        "An identity cannot be both doubtful (DOUT) and fictitious (FICT).",
        "Une identité ne peut pas être à la fois douteuse (DOUT) et fictive (FICT).",
    ),
    "attributes-fict-homa": (
        "A fictitious identity (FICT) cannot carry another attribute.",
        "Une identité fictive (FICT) ne peut pas porter d'autre attribut.",
    ),
    "blocked-must-be-prov": (
        "A doubtful or fictitious identity must stay provisional.",
        "Une identité douteuse ou fictive doit rester provisoire.",
    ),
    "insi-forbidden-attribute": (
        "INSi calls are forbidden for an identity marked {attribute}.",
        "L'appel à l'INSi est interdit pour une identité {attribute}.",
    ),
    "document-on-blocked": (
        "The identity is marked {attribute}: the identitovigilance cell must remove it first.",
        "L'identité est {attribute} : la cellule d'identitovigilance doit d'abord lever cet attribut.",
    ),
    "attribute-unknown": (
        "Unknown attribute {value}: use DOUT, FICT or HOMA.",
        "Attribut inconnu {value} : utilisez DOUT, FICT ou HOMA.",
    ),
    "attribute-absent": (
        "The identity does not carry the attribute {attribute}.",
        "L'identité ne porte pas l'attribut {attribute}.",
    ),
    "document-type-missing": (
        "Choose the type of identity document (no default).",
        "Choisissez le type de justificatif d'identité (pas de valeur par défaut).",
    ),
    "document-type-unknown": (
        "Unknown identity document type {value}: use one of {valid}.",
        "Type de justificatif inconnu {value} : utilisez l'un des codes {valid}.",
    ),
    "document-expired": (
        "The identity document has expired.",
        "Le justificatif d'identité est expiré.",
    ),
    "role-missing": (
        "This operation needs one of the roles: {roles}.",
        "Cette opération nécessite l'un des rôles : {roles}.",
    ),
    "strict-edit-needs-identitovigilance": (
        "Strict traits of a {status} identity can only be changed by the identitovigilance cell.",
        "Les traits stricts d'une identité {status} ne peuvent être modifiés que par la cellule "
        "d'identitovigilance.",
    ),
}


def label(field: str | None, language: str) -> str:
    """Trait label in the given language."""
    if field is None:
        return ""
    english, french = TRAIT_LABELS.get(field, (field, field))
    return french if language == "fr" else english


def register(code: str, english: str, french: str) -> None:
    """Add the messages of another layer's error codes to the catalogue."""
    MESSAGES[code] = (english, french)


def register_terms(terms: dict[str, str], *, parameter: str | None = None) -> None:
    """Add words or reasons that messages embed (English -> French), for one parameter or any.

    A term may hold {placeholders}, filled from the other parameters of the error.
    """
    TERMS.update({(parameter, english): french for english, french in terms.items()})


def term(name: str, value: Any, language: str, params: dict[str, Any]) -> Any:
    """A parameter as the message embeds it: a registered term (or a nested error) in the language."""
    if name not in TERM_PARAMETERS:
        return value
    if callable(getattr(value, "message", None)):  # an error embedded in another one's message
        text = str(value.message(language)).rstrip(".")
        return text[:1].lower() + text[1:]
    if isinstance(value, list | tuple):
        return ", ".join(str(term(name, item, language, params)) for item in value)
    if not isinstance(value, str):
        return value
    french = TERMS.get((name, value), TERMS.get((None, value)))
    if french is None:
        return value
    text = french if language == "fr" else value
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        return text


def render(code: str, language: str, *, field: str | None = None, **params: Any) -> str:
    """Message for an error code; falls back to the code itself when unknown."""
    english, french = MESSAGES.get(code, (code, code))
    template = french if language == "fr" else english
    text = label(field, language)
    # A tuple of trait names (e.g. the traits that differ) is shown with their labels.
    values = {
        name: ", ".join(label(v, language) for v in value)
        if isinstance(value, tuple) and name not in TERM_PARAMETERS
        else term(name, value, language, params)
        for name, value in params.items()
    }
    try:
        message = template.format(field=text, **values)
    except (KeyError, IndexError):
        message = template
    return message[:1].upper() + message[1:]
