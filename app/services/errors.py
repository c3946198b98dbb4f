"""Errors raised by the use cases (translated to HTTP once, in app/api/errors.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.domain.errors import DomainError, MissingReason
from app.domain.messages import register, register_terms, render
from app.domain.worklist import EVENT_LABELS, RESOLUTION_LABELS, label

__all__ = ["AlreadyResolved", "Conflict", "InvalidRequest", "MissingReason", "NotFound", "ProbableDuplicate",
           "StaleVersion", "VersionRequired"]


class NotFound(DomainError):
    """The identity (or its document) does not exist."""

    code = "not-found"


class Conflict(DomainError):
    """The request conflicts with stored data (IPP taken, INS held by another identity...)."""

    code = "conflict"


class ProbableDuplicate(Conflict):
    """Creating the identity would create a certain or probable duplicate (ins-rniv §6): the
    candidates are attached, to be shown to the actor (``roles``) as any identity read would be."""

    code = "probable-duplicate"

    def __init__(self, candidates: Sequence[Any], roles: frozenset[str]) -> None:
        super().__init__(count=len(candidates))
        self.candidates = tuple(candidates)
        self.roles = roles


class AlreadyResolved(Conflict):
    """The worklist item was already closed, by a person or by the event that took its cause away."""

    code = "worklist-item-resolved"

    def message(self, language: str = "en") -> str:
        """Who closed it and when, with the resolution or the event in the given language."""
        params = dict(self.params)
        event, resolution = params.pop("event", None), params.pop("resolution", None)
        if event:
            event_label = label(EVENT_LABELS, event, language)
            return render("worklist-item-closed", language, event=event_label, **params)
        return render(self.code, language, resolution=label(RESOLUTION_LABELS, resolution or "", language),
                      **params)


class InvalidRequest(DomainError):
    """The request is incomplete or inconsistent (HTTP 422): a range without its end..."""

    code = "invalid-request-values"


class StaleVersion(DomainError):
    """The If-Match version is not the current one."""

    code = "stale-version"


class VersionRequired(DomainError):
    """The request must say which version it modifies (If-Match)."""

    code = "version-required"


register("not-found", "{what} {ident} not found.", "{what} {ident} introuvable.")
register("replay-range-incomplete",
         "A replay names one identity, or a time range with its start and its end.",
         "Une relecture désigne une identité, ou une période avec son début et sa fin.")
register("replay-range-reversed", "The start of the replay range is after its end.",
         "Le début de la période de relecture est après sa fin.")
register(
    "ipp-exists",
    "The local id (IPP) {ipp} is already used by another identity.",
    "L'identifiant local (IPP) {ipp} est déjà utilisé par une autre identité.",
)
register(
    "ipp-ambiguous",
    "IPP {ipp} exists in several identifier domains (identities {ids}): give the identity id.",
    "L'IPP {ipp} existe dans plusieurs domaines d'identifiants (identités {ids}) : indiquez l'identifiant "
    "de l'identité.",
)
register(
    "stale-version",
    "The identity changed since you read it (current version {current}): reload it and try again.",
    "L'identité a été modifiée depuis votre lecture (version actuelle {current}) : rechargez-la puis "
    "recommencez.",
)
register(
    "version-required",
    "Send the If-Match header with the version you read.",
    "Envoyez l'en-tête If-Match avec la version lue.",
)
register(
    "subscriber-exists",
    "A subscriber named {name} already exists.",
    "Un abonné nommé {name} existe déjà.",
)
register(
    "subscriber-events",
    "Events must be a comma-separated list among {allowed}.",
    "Les événements doivent être une liste séparée par des virgules parmi {allowed}.",
)
register(
    "subscriber-charset",
    "Character set must be one of {allowed}.",
    "Le jeu de caractères doit être l'un de {allowed}.",
)
register(
    "subscriber-already-ins-ready",
    "Subscriber {name} is already INS-ready.",
    "L'abonné {name} est déjà compatible INS.",
)
register(
    "dead-letter-state",
    "Message {ident} is not a dead letter (state {state}).",
    "Le message {ident} n'est pas en lettre morte (état {state}).",
)
register(
    "hl7-conflict",
    "The message conflicts with stored identities (identifier or INS already used).",
    "Le message est en conflit avec les identités enregistrées (identifiant ou INS déjà utilisé).",
)
register(
    "hl7-control-id-reused",
    "Control id {control_id} was already used by this sender for another message: this one was not "
    "applied (a sender that reset its counter must not lose it). Re-run it from the quarantine with "
    "a new MSH-10.",
    "L'identifiant de message {control_id} a déjà été utilisé par cet émetteur pour un autre message : "
    "celui-ci n'a pas été appliqué (un émetteur qui a remis son compteur à zéro ne doit rien perdre). "
    "Relancez-le depuis la quarantaine avec un nouveau MSH-10.",
)
register(
    "quarantine-closed",
    "Quarantined message {ident} is already closed ({state}).",
    "Le message en quarantaine {ident} est déjà traité ({state}).",
)

# What was not found, why a reason is needed, the state a message is in: French words.
register_terms({
    "Identity": "identité",
    "Document": "justificatif",
    "Campaign": "campagne",
    "Subscriber": "abonné",
    "Message": "message",
    "Quarantined message": "message en quarantaine",
    "Worklist": "liste de travail",
    "Open worklist item": "élément ouvert de liste de travail",
    "INSi proposal": "proposition INSi",
    "Merge": "fusion",
    "Worklist item": "élément de liste de travail",
}, parameter="what")
register_terms({
    "attribute": "modification d'un attribut",
    "demotion": "baisse du statut",
    "withdrawal": "retrait du justificatif",
    "resolution": "clôture de l'élément",
    "discard": "mise à l'écart du message",
    "skip": "abandon de la lettre morte",
    "rejection": "refus de la proposition",
    "merge": "fusion",
    "unmerge": "défusion",
    "strict-change": "modification d'un trait strict",
    "dismissal": "mise à l'écart de la paire",
    "link": "rapprochement",
    "unlink": "fin du rapprochement",
    "collision": "signalement d'une collision",
    "collision resolution": "traitement de la collision",
}, parameter="why")
register_terms({
    "pending": "en attente",
    "sending": "en cours d'envoi",
    "done": "remis",
    "dead": "en lettre morte",
    "skipped": "abandonné",
    "open": "ouvert",
    "rerun": "rejoué",
    "discarded": "écarté",
}, parameter="state")
