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
    POTENTIAL_DUPLICATE = "potential_duplicate"
    POTENTIAL_COLLISION = "potential_collision"  # COLP: one identity may cover two persons
    MSS_INTEGRATION_ERROR = "mss_integration_error"  # an MSSanté recipient could not file the document


#: What each kind is called at the desk and in the cell: (English, French).
KIND_LABELS: dict[str, tuple[str, str]] = {
    WorklistKind.INSI_NOT_FOUND: ("INSi: identity not found", "INSi : identité non trouvée"),
    WorklistKind.INSI_AMBIGUOUS: ("INSi: several identities", "INSi : plusieurs identités"),
    WorklistKind.INSI_FOUND: ("INSi: identity found, to review", "INSi : identité trouvée, à valider"),
    WorklistKind.TRAITS_DIFFER: ("INSi traits differ", "Traits INSi différents"),
    WorklistKind.VERIFICATION_FAILED: ("INS verification failed", "Échec de la vérification de l'INS"),
    WorklistKind.INS_COLLISION: ("INS held by another identity", "INS porté par une autre identité"),
    WorklistKind.INSI_UNAVAILABLE: ("INSi unavailable", "INSi indisponible"),
    WorklistKind.DOCUMENT_EXPIRED: ("Identity document expired", "Justificatif d'identité expiré"),
    WorklistKind.INS_RECEIVED: ("INS received, to verify", "INS reçu, à vérifier"),
    WorklistKind.IDENTIFIER_CONFLICT: ("Identifier given to another person",
                                       "Identifiant attribué à une autre personne"),
    WorklistKind.POTENTIAL_DUPLICATE: ("Potential duplicate", "Doublon potentiel"),
    WorklistKind.POTENTIAL_COLLISION: ("Potential collision", "Collision potentielle"),
    WorklistKind.MSS_INTEGRATION_ERROR: ("MSSanté: identity refused by the recipient",
                                         "MSSanté : identité refusée par le destinataire"),
}


class Resolution(StrEnum):
    """How the cell closed an item (what a person may choose)."""

    CORRECTED = "corrected"
    CONFIRMED = "confirmed"
    MERGED = "merged"
    RETRIED = "retried"
    NO_ACTION = "no_action"


AUTOMATIC = "automatic"  # the resolution of an item closed by the event that took its cause away


class ClosingEvent(StrEnum):
    """Events that take away the cause of worklist items (recorded on the items they close)."""

    INSI_ANSWERED = "insi_answered"  # INSi answered a call about the identity (any answer code)
    INSI_IDENTITY_FOUND = "insi_identity_found"  # INSi found exactly one person for the identity
    INSI_TRAITS_APPLIED = "insi_traits_applied"  # an INSi proposal was accepted or auto-applied
    INS_VERIFIED = "ins_verified"  # a verification confirmed the stored INS and traits
    DOCUMENT_CHECKED = "document_checked"  # a valid high-trust document was recorded
    EXPIRED_DOCUMENT_WITHDRAWN = "expired_document_withdrawn"  # the expired document was withdrawn
    DUPLICATE_DISMISSED = "duplicate_dismissed"  # the cell dismissed the pair (two persons)
    DUPLICATE_CLEARED = "duplicate_cleared"  # a trait changed: the pair is no longer probable
    DUPLICATE_MERGED = "duplicate_merged"  # the pair's two identities were merged
    IDENTITY_MERGED = "identity_merged"  # the identity was merged into another: it is closed
    DUPLICATE_LINKED = "duplicate_linked"  # the pair's two identities were linked (kept apart)
    COLLISION_RESOLVED = "collision_resolved"  # the cell resolved the collision (with a reason)


_FOUND = frozenset({WorklistKind.INSI_UNAVAILABLE, WorklistKind.INSI_NOT_FOUND, WorklistKind.INSI_AMBIGUOUS})
CLOSED_BY: dict[ClosingEvent, frozenset[WorklistKind]] = {
    ClosingEvent.INSI_ANSWERED: frozenset({WorklistKind.INSI_UNAVAILABLE}),
    ClosingEvent.INSI_IDENTITY_FOUND: _FOUND,
    ClosingEvent.INSI_TRAITS_APPLIED: _FOUND - {WorklistKind.INSI_UNAVAILABLE} | {
        WorklistKind.TRAITS_DIFFER, WorklistKind.INSI_FOUND, WorklistKind.VERIFICATION_FAILED,
        WorklistKind.INS_RECEIVED},
    ClosingEvent.INS_VERIFIED: _FOUND | {WorklistKind.VERIFICATION_FAILED, WorklistKind.INS_RECEIVED},
    ClosingEvent.DOCUMENT_CHECKED: frozenset({WorklistKind.DOCUMENT_EXPIRED}),
    ClosingEvent.EXPIRED_DOCUMENT_WITHDRAWN: frozenset({WorklistKind.DOCUMENT_EXPIRED}),
    ClosingEvent.DUPLICATE_DISMISSED: frozenset({WorklistKind.POTENTIAL_DUPLICATE}),
    ClosingEvent.DUPLICATE_CLEARED: frozenset({WorklistKind.POTENTIAL_DUPLICATE}),
    ClosingEvent.DUPLICATE_MERGED: frozenset({WorklistKind.POTENTIAL_DUPLICATE}),
    ClosingEvent.IDENTITY_MERGED: frozenset(WorklistKind),
    ClosingEvent.DUPLICATE_LINKED: frozenset({WorklistKind.POTENTIAL_DUPLICATE}),
    ClosingEvent.COLLISION_RESOLVED: frozenset({WorklistKind.POTENTIAL_COLLISION}),
}


def closed_kinds(event: ClosingEvent) -> frozenset[WorklistKind]:
    """Which kinds an event closes for its identity: a worklist states present anomalies only.

    Rationale, kind by kind (issue 18 item 7):
    - ``insi_unavailable`` (a fault, never a "not found", insi.md) is gone once INSi answers a later
      call about the identity, whatever the answer;
    - ``insi_not_found`` and ``insi_ambiguous`` are gone once INSi finds the identity (a retrieval
      naming one person, a confirmed verification, or its INS stored from INSi);
    - ``traits_differ`` and ``insi_found`` ask the desk to accept the INSi proposal: gone once INSi
      traits are applied (EXI REC 07), by the desk or by a campaign's auto-apply;
    - ``verification_failed`` is gone after a later confirmed verification or a newly applied
      retrieval (the identity holds an INS INSi vouches for again, EXI SI 07);
    - ``ins_received`` (an INS to verify before trusting it) is gone once that INS is verified or the
      identity got its INS from INSi;
    - ``document_expired`` is gone when a valid high-trust document is recorded (EXI SI 10), or when
      the expired document itself is withdrawn (only that document's item);
    - ``ins_collision`` is never closed by an event: only the cell can tell a duplicate from a collision;
    - ``potential_duplicate`` (one item per pair) is gone when the cell dismisses the pair, or when a
      trait changed so that the pair is no longer probable or better (only that pair's item), or
      when its two identities are merged or linked (the cell decided: one person kept in two
      identities, or two related identities);
    - ``potential_collision`` (COLP, one identity that may cover two persons) is closed only by the
      cell's resolution (not a collision, demote, set the INS aside, split), each with a reason;
    - every item of an identity merged into another is gone with it (the absorbed identity is
      closed, ins-rniv §6): what still matters is the survivor's.
    """
    return CLOSED_BY[event]


def open_key(kind: WorklistKind, identity_id: int, outcome: str) -> str:
    """One open item per cause: a retry updates it; each expired document, and each duplicate
    pair, is a cause of its own."""
    if kind in (WorklistKind.DOCUMENT_EXPIRED, WorklistKind.POTENTIAL_DUPLICATE):
        return f"{kind.value}:{identity_id}:{outcome}"
    return f"{kind.value}:{identity_id}"


EXPIRED_DOCUMENT_PREFIX = "document:"
DUPLICATE_PAIR_PREFIX = "pair:"


def duplicate_pair_outcome(pair_id: int) -> str:
    """The outcome of a potential_duplicate item: the pair it is about."""
    return f"{DUPLICATE_PAIR_PREFIX}{pair_id}"


def expired_document_outcome(document_id: int) -> str:
    """The outcome of a document_expired item: the document it is about."""
    return f"{EXPIRED_DOCUMENT_PREFIX}{document_id}"


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
    REVIEW_DUPLICATE = "hint-review-duplicate"
    REVIEW_COLLISION = "hint-review-collision"


MARRIED_NAME_AGE = 50

for _hint, _en, _fr in [
    (Hint.USED_NAME_AS_BIRTH_NAME,
     "Not found: is the used name typed as the birth name? Check the birth name on the identity document.",
     "Non trouvé : le nom utilisé a-t-il été saisi comme nom de naissance ? Vérifiez le nom de naissance "
     "sur le justificatif."),
    (Hint.MARRIED_NAME,
     "Not found: for a woman, the married name is often typed as the birth name; check it on the document.",
     "Non trouvé : pour une femme, le nom d'usage est souvent saisi comme nom de naissance ; "
     "vérifiez-le sur le justificatif."),
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
     "L'INS est déjà porté par une autre identité : doublon possible (fusion) ou collision "
     "(erreur d'identité)."),
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
     "L'INSi a trouvé cette identité avec les mêmes traits : contrôlez un justificatif puis acceptez "
     "la récupération."),
    (Hint.IDENTIFIER_CONFLICT,
     "A message gave this identity's identifier to a person with other strict traits: check both with "
     "the sender (identifier reused, collision, or a correction to make as an update), then re-run or "
     "discard the quarantined message.",
     "Un message a attribué l'identifiant de cette identité à une personne aux traits stricts différents : "
     "vérifiez les deux avec l'émetteur (identifiant réutilisé, collision, ou correction à faire par une "
     "mise à jour), puis relancez ou écartez le message en quarantaine."),
    (Hint.REVIEW_DUPLICATE,
     "Two identities may be one person: compare them side by side (GET /duplicates), check an identity "
     "document, then merge them or dismiss the pair with a reason.",
     "Deux identités désignent peut-être la même personne : comparez-les côte à côte (GET /duplicates), "
     "contrôlez un justificatif d'identité, puis fusionnez-les ou écartez la paire avec un motif."),
    (Hint.REVIEW_COLLISION,
     "This identity may cover two persons (collision): check the identity documents and the INS with INSi, "
     "then resolve it (not a collision, demote, set the INS aside, or split into two identities).",
     "Cette identité recouvre peut-être deux personnes (collision) : contrôlez les justificatifs et l'INS "
     "par l'INSi, puis traitez-la (pas une collision, rétrogradation, mise à l'écart de l'INS, ou "
     "séparation en deux identités)."),
    (Hint.VERIFY_RECEIVED_INS,
     "An INS was received from another system: verify it with INSi before trusting it.",
     "Un INS a été reçu d'un autre système : vérifiez-le auprès de l'INSi avant de s'y fier."),
]:
    register(_hint.value, _en, _fr)
EVENT_LABELS: dict[str, tuple[str, str]] = {
    ClosingEvent.INSI_ANSWERED: ("INSi answered a later call", "l'INSi a répondu à un appel ultérieur"),
    ClosingEvent.INSI_IDENTITY_FOUND: ("INSi found the identity", "l'INSi a trouvé l'identité"),
    ClosingEvent.INSI_TRAITS_APPLIED: ("the INSi traits were applied", "les traits INSi ont été appliqués"),
    ClosingEvent.INS_VERIFIED: ("the INS was verified with INSi", "l'INS a été vérifié auprès de l'INSi"),
    ClosingEvent.DOCUMENT_CHECKED: ("a valid high-trust identity document was recorded",
                                    "un justificatif d'identité valide à haut niveau de confiance "
                                    "a été enregistré"),
    ClosingEvent.EXPIRED_DOCUMENT_WITHDRAWN: ("the expired document was withdrawn",
                                              "le justificatif expiré a été retiré"),
    ClosingEvent.DUPLICATE_DISMISSED: ("the pair was dismissed (two persons)",
                                       "la paire a été écartée (deux personnes)"),
    ClosingEvent.DUPLICATE_CLEARED: ("the traits changed: the pair is no longer a probable duplicate",
                                     "les traits ont changé : la paire n'est plus un doublon probable"),
    ClosingEvent.DUPLICATE_MERGED: ("the two identities were merged",
                                    "les deux identités ont été fusionnées"),
    ClosingEvent.IDENTITY_MERGED: ("the identity was merged into another one",
                                   "l'identité a été fusionnée dans une autre"),
    ClosingEvent.DUPLICATE_LINKED: ("the two identities were linked", "les deux identités ont été liées"),
    ClosingEvent.COLLISION_RESOLVED: ("the collision was resolved", "la collision a été traitée"),
}
RESOLUTION_LABELS: dict[str, tuple[str, str]] = {
    Resolution.CORRECTED: ("corrected", "corrigée"),
    Resolution.CONFIRMED: ("confirmed", "confirmée"),
    Resolution.MERGED: ("merged", "fusionnée"),
    Resolution.RETRIED: ("retried", "relancée"),
    Resolution.NO_ACTION: ("no action", "sans suite"),
    AUTOMATIC: ("closed automatically", "close automatiquement"),
}


def label(labels: dict[str, tuple[str, str]], code: str, language: str) -> str:
    """The label of an event or a resolution in a language (the code itself when unknown)."""
    english, french = labels.get(code, (code, code))
    return french if language == "fr" else english


register("worklist-item-resolved",
         "Worklist item {ident} was already resolved by {by} on {at} UTC ({resolution}).",
         "L'anomalie {ident} a déjà été traitée par {by} le {at} UTC ({resolution}).")
register("worklist-item-closed",
         "Worklist item {ident} was already closed automatically on {at} UTC: {event} (action of {by}).",
         "L'anomalie {ident} a déjà été close automatiquement le {at} UTC : {event} (action de {by}).")
register("resolution-unknown",
         "Unknown resolution {value}: use corrected, confirmed, merged, retried or no_action.",
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
