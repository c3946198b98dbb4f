"""Answers and faults of the simulated INSi, in the real service's irregular shapes.

Two dialects:
- ``current``: ``soap:`` on Envelope and ``env:`` on Body (same SOAP 1.2 namespace), an empty
  Header, prefixed RESULTAT, fault severity ``fatale``, ``xml:lang="fr"``, messageID echoed.
- ``legacy``: ``soap:`` on Envelope, ``S:`` on Body, unused namespace declarations, RESULTAT in a
  default namespace, fault severity ``fatal``, ``xml:lang="en"``, no messageID.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

from app.simulator.personas import Persona, SimIns

Dialect = Literal["current", "legacy"]
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
RESULTAT = "http://www.cnamts.fr/INSiResultat"
LABELS = {"00": "OK", "01": "Aucune identite trouvee", "02": "Plusieurs identites trouvees"}


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault as the real service sends it."""

    code: str  # Sender | Receiver
    subcode: str | None  # siram_<n>
    detail_code: str
    reason: str
    technical: str


FAULTS: dict[str, Fault] = {
    "unknown-idam": Fault(
        "Sender",
        "siram_100",
        "desir_550",
        "Le numero d'autorisation du logiciel est inconnu.",
        "IDAM inconnu",
    ),
    "certificate": Fault(
        "Sender",
        None,
        "DESIR_560",
        "Le certificat utilise n'est pas autorise pour ce service.",
        "CN du certificat non autorise",
    ),
    "unavailable": Fault(
        "Receiver",
        "siram_40",
        "desir_1020",
        "Le service est momentanement indisponible. Veuillez reessayer ulterieurement.",
        "Service indisponible",
    ),
    "technical": Fault(
        "Receiver",
        "siram_40",
        "insi_102",
        "Une erreur technique est survenue lors de la recherche.",
        "Erreur technique recherche traits",
    ),
    # Not a documented INSi code: the simulator's answer to a request it cannot read.
    "malformed": Fault(
        "Sender",
        "siram_1",
        "simulateur_requete_invalide",
        "La requete est mal formee.",
        "Requete invalide",
    ),
}


def _envelope(body: str, dialect: Dialect, header: str = "") -> str:
    if dialect == "legacy":
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP12}" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:ns9="urn:inutile">'
            f'<soap:Header/><S:Body xmlns:S="{SOAP12}">{body}</S:Body></soap:Envelope>'
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP12}">'
        f'<soap:Header>{header}</soap:Header><env:Body xmlns:env="{SOAP12}">{body}</env:Body>'
        "</soap:Envelope>"
    )


def _ins(tag: str, ins: SimIns, p: str) -> str:
    dates = ""
    if ins.start:
        dates += f"<{p}DateDeb>{escape(ins.start)}</{p}DateDeb>"
    if ins.end:
        dates += f"<{p}DateFin>{escape(ins.end)}</{p}DateFin>"
    return (
        f"<{p}{tag}><{p}IdIndividu><{p}NumIdentifiant>{escape(ins.number)}</{p}NumIdentifiant>"
        f"<{p}Cle>{escape(ins.key)}</{p}Cle></{p}IdIndividu><{p}OID>{escape(ins.oid)}</{p}OID>"
        f"{dates}</{p}{tag}>"
    )


def _individu(person: Persona, p: str) -> str:
    tiq = (
        f"<{p}TIQ><{p}NomNaissance>{escape(person.birth_name)}</{p}NomNaissance>"
        f"<{p}Prenom>{escape(person.first_name_list[0])}</{p}Prenom>"
        f"<{p}ListePrenom>{escape(person.first_names)}</{p}ListePrenom>"
        f"<{p}Sexe>{person.sex}</{p}Sexe><{p}DateNaissance>{person.birth_date}</{p}DateNaissance>"
        + (f"<{p}LieuNaissance>{escape(person.birth_place)}</{p}LieuNaissance>" if person.birth_place else "")
        + f"</{p}TIQ>"
    )
    history = "".join(_ins("INSHISTO", h, p) for h in person.history)
    return f"<{p}INDIVIDU>{_ins('INSACTIF', person.ins, p)}{history}{tiq}</{p}INDIVIDU>"


def resultat(code: str, person: Persona | None, dialect: Dialect, action: str, message_id: str) -> bytes:
    """A RESULTAT answer; for 00 with INDIVIDU."""
    if dialect == "legacy":
        opening, p = f'<RESULTAT xmlns="{RESULTAT}">', ""
        closing = "</RESULTAT>"
    else:
        opening, p = f'<ins:RESULTAT xmlns:ins="{RESULTAT}">', "ins:"
        closing = "</ins:RESULTAT>"
    body = (
        f"{opening}<{p}CR><{p}CodeCR>{code}</{p}CodeCR><{p}LibelleCR>{LABELS[code]}</{p}LibelleCR></{p}CR>"
        + (_individu(person, p) if person is not None and code == "00" else "")
        + closing
    )
    wsa = "http://www.w3.org/2005/08/addressing"
    header = (
        f'<wsa:Action xmlns:wsa="{wsa}">{escape(action)}Response</wsa:Action>'
        f'<wsa:RelatesTo xmlns:wsa="{wsa}">{escape(message_id)}</wsa:RelatesTo>'
        if message_id
        else ""
    )
    return _envelope(body, dialect, header).encode("utf-8")


def fault(kind: str, dialect: Dialect, message_id: str | None) -> bytes:
    """A SOAP 1.2 Fault with siram:Erreur in Detail."""
    f = FAULTS[kind]
    subcode = (
        f'<env:Subcode><env:Value xmlns:siram="urn:siram">siram:{f.subcode}</env:Value></env:Subcode>'
        if f.subcode
        else ""
    )
    lang = "en" if dialect == "legacy" else "fr"
    severity = "fatal" if dialect == "legacy" else "fatale"
    echo = f" messageID={quoteattr(message_id)}" if message_id and dialect == "current" else ""
    body = (
        f'<env:Fault xmlns:env="{SOAP12}"><env:Code><env:Value>env:{f.code}</env:Value>{subcode}</env:Code>'
        f'<env:Reason><env:Text xml:lang="{lang}">{escape(f.reason)}</env:Text></env:Reason>'
        f'<env:Detail><siram:Erreur xmlns:siram="urn:siram" code="{f.detail_code}" '
        f'severite="{severity}"{echo}>'
        f"{escape(f.technical)}</siram:Erreur></env:Detail></env:Fault>"
    )
    return _envelope(body, dialect).encode("utf-8")
