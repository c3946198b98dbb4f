"""The simulator's persons, loaded from a JSON data file, and the INSi matching rule.

A traits search matches a person when birth name, sex and birth date are equal and each first name
sent is one of the person's birth first names; a birth place, when sent, must be the person's.
A Carte Vitale search matches on the matricule read (the beneficiary's, else the insured's, active
or historical), the birth name and the birth date.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PERSONAS = Path(__file__).with_name("personas.json")
FAULT_KINDS = ("unavailable", "technical", "timeout", "unknown-idam", "certificate")


@dataclass(frozen=True, slots=True)
class SimIns:
    """One INS of a person: 13 characters, key, OID and (for history) dates as sent."""

    number: str
    key: str
    oid: str
    start: str | None = None
    end: str | None = None

    @property
    def matricule(self) -> str:
        """The 15-character matricule."""
        return self.number + self.key


@dataclass(frozen=True, slots=True)
class Persona:
    """A person the simulated INSi knows."""

    id: str
    birth_name: str
    first_names: str
    sex: str
    birth_date: str
    birth_place: str | None
    ins: SimIns
    history: tuple[SimIns, ...] = ()
    fault: str | None = None
    latency_ms: float = 0.0

    @property
    def first_name_list(self) -> list[str]:
        """The birth first names, one per entry."""
        return self.first_names.split(" ")

    def matricules(self) -> set[str]:
        """Active and historical matricules."""
        return {self.ins.matricule, *(h.matricule for h in self.history)}


def _ins(data: dict[str, str]) -> SimIns:
    return SimIns(data["number"], data["key"], data["oid"], data.get("start"), data.get("end"))


def _persona(data: dict[str, Any]) -> Persona:
    fault = data.get("fault")
    if fault is not None and fault not in FAULT_KINDS:
        raise ValueError(f"persona {data.get('id')}: unknown fault {fault!r} (one of {FAULT_KINDS})")
    return Persona(
        id=str(data["id"]),
        birth_name=str(data["birth_name"]),
        first_names=str(data["first_names"]),
        sex=str(data["sex"]),
        birth_date=str(data["birth_date"]),
        birth_place=data.get("birth_place"),
        ins=_ins(data["ins"]),
        history=tuple(_ins(h) for h in data.get("history", [])),
        fault=fault,
        latency_ms=float(data.get("latency_ms", 0.0)),
    )


class PersonaBook:
    """The persons of one data file."""

    def __init__(self, persons: list[Persona]) -> None:
        self.persons = persons

    @classmethod
    def load(cls, path: Path | None = None) -> PersonaBook:
        """Load a persona file (the default one ships the public INSi test persons)."""
        data = json.loads((path or DEFAULT_PERSONAS).read_text(encoding="utf-8"))
        return cls([_persona(p) for p in data["persons"]])

    def by_traits(
        self, birth_name: str, first_names: list[str], sex: str, birth_date: str, place: str | None
    ) -> list[Persona]:
        """Every person the traits designate (several: CR 02)."""
        sent = [word for name in first_names for word in name.split(" ") if word]
        return [
            p
            for p in self.persons
            if p.birth_name == birth_name
            and p.sex == sex
            and p.birth_date == birth_date
            and all(word in p.first_name_list for word in sent)
            and (place is None or p.birth_place == place)
        ]

    def by_vitale(self, matricule: str, birth_name: str, birth_date: str) -> list[Persona]:
        """Every person a Carte Vitale read designates."""
        return [
            p
            for p in self.persons
            if matricule in p.matricules() and p.birth_name == birth_name and p.birth_date == birth_date
        ]
