"""Identitovigilance worklists: the cases a machine cannot decide, with a suggested action."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from app.domain.messages import register
from app.domain.traits import Sex, Traits


class WorklistKind(StrEnum):
    """Kinds of worklist items."""

    INSI_NOT_FOUND = "insi_not_found"
    INSI_AMBIGUOUS = "insi_ambiguous"
    INSI_FOUND = "insi_found"
    TRAITS_DIFFER = "traits_differ"
    VERIFICATION_FAILED = "verification_failed"
    INS_COLLISION = "ins_collision"
    INSI_UNAVAILABLE = "insi_unavailable"
    DOCUMENT_EXPIRED = "document_expired"
    INS_RECEIVED = "ins_received"
    IDENTIFIER_CONFLICT = "identifier_conflict"


class Resolution(StrEnum):
    """How an item was closed."""

    CORRECTED = "corrected"
    CONFIRMED = "confirmed"
    MERGED = "merged"
    RETRIED = "retried"
    NO_ACTION = "no_action"


class Hint(StrEnum):
    """Suggested actions shown with an item."""

    USED_NAME_AS_BIRTH_NAME = "hint-used-name-as-birth-name"
    MARRIED_NAME = "hint-married-name"
    CHECK_TRAITS = "hint-check-traits"
    ADD_FIRST_NAMES_OR_PLACE = "hint-add-first-names-or-place"
    COMPARE_TRAITS = "hint-compare-traits"
    DUPLICATE_OR_COLLISION = "hint-duplicate-or-collision"
    RETRY_LATER = "hint-retry-later"
    CONFIGURATION = "hint-configuration"
    NEW_DOCUMENT = "hint-new-document"
    VERIFY_RECEIVED_INS = "hint-verify-received-ins"
    REVIEW_FOUND = "hint-review-found"
    IDENTIFIER_CONFLICT = "hint-identifier-conflict"


MARRIED_NAME_AGE = 50

for _hint, _en, _fr in [
    (Hint.USED_NAME_AS_BIRTH_NAME,
     "Not found: is the used name typed as the birth name? Check the birth name on the identity document.",
     "Non trouvé : le nom utilisé a-t-il été saisi comme nom de naissance ? Vérifiez le nom de naissance sur le justificatif."),
    (Hint.MARRIED_NAME,
     "Not found: for a woman, the married name is often typed as the birth name; check it on the document.",
     "Non trouvé : pour une femme, le nom d'usage est souvent saisi comme nom de naissance ; vérifiez-le sur le justificatif."),
    (Hint.CHECK_TRAITS,
     "Not found: check every strict trait against an identity document, then try again.",
     "Non trouvé : vérifiez chaque trait strict sur un justificatif d'identité, puis relancez."),
    (Hint.ADD_FIRST_NAMES_OR_PLACE,
     "Several identities: add every birth first name and the birth place, then try again.",
     "Plusieurs identités : saisissez tous les prénoms de naissance et le lieu de naissance, puis relancez."),
    (Hint.COMPARE_TRAITS,
     "INSi traits differ from the local ones: compare with the identity document before accepting.",
     "Les traits INSi diffèrent des traits locaux : comparez avec le justificatif avant d'accepter."),
    (Hint.DUPLICATE_OR_COLLISION,
     "The INS is already held by another identity: possible duplicate (merge) or collision (identity error).",
     "L'INS est déjà porté par une autre identité : doublon possible (fusion) ou collision (erreur d'identité)."),
    (Hint.RETRY_LATER,
     "INSi could not answer: retry later (this is not a \"not found\").",
     "L'INSi n'a pas pu répondre : relancez plus tard (ce n'est pas un « non trouvé »)."),
    (Hint.CONFIGURATION,
     "INSi refused the installation's configuration: alert the administrator.",
     "L'INSi refuse la configuration de l'installation : prévenez l'administrateur."),
    (Hint.NEW_DOCUMENT,
     "The identity document has expired: check a valid document at the next visit.",
     "Le justificatif d'identité est expiré : contrôlez un justificatif valide à la prochaine venue."),
    (Hint.REVIEW_FOUND,
     "INSi found this identity with the same traits: check an identity document, then accept the retrieval.",
     "L'INSi a trouvé cette identité avec les mêmes traits : contrôlez un justificatif puis acceptez la récupération."),
    (Hint.IDENTIFIER_CONFLICT,
     "A message gave this identity's identifier to a person with other strict traits: check both with "
     "the sender (identifier reused, collision, or a correction to make as an update), then re-run or "
     "discard the quarantined message.",
     "Un message a attribué l'identifiant de cette identité à une personne aux traits stricts différents : "
     "vérifiez les deux avec l'émetteur (identifiant réutilisé, collision, ou correction à faire par une "
     "mise à jour), puis relancez ou écartez le message en quarantaine."),
    (Hint.VERIFY_RECEIVED_INS,
     "An INS was received from another system: verify it with INSi before trusting it.",
     "Un INS a été reçu d'un autre système : vérifiez-le auprès de l'INSi avant de s'y fier."),
]:
    register(_hint.value, _en, _fr)
register("resolution-unknown", "Unknown resolution {value}: use corrected, confirmed, merged, retried or no_action.",
         "Résolution inconnue {value} : utilisez corrected, confirmed, merged, retried ou no_action.")


def not_found_hint(traits: Traits, today: date) -> Hint:
    """Most not-found answers come from a used name typed as birth name (insi.md field practice)."""
    if traits.used_name and traits.used_name != traits.birth_name:
        return Hint.USED_NAME_AS_BIRTH_NAME
    age = today.year - traits.birth_date.year - (
        (today.month, today.day) < (traits.birth_date.month, traits.birth_date.day)
    )
    if traits.sex is Sex.F and age >= MARRIED_NAME_AGE:
        return Hint.MARRIED_NAME
    return Hint.CHECK_TRAITS
