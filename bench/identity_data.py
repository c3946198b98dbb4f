"""Realistic synthetic French identities for the benchmarks (Faker fr_FR), seeded through the repository.

Names go through the RNIV lexical profile (app.domain.traits.build_traits): ligatures are
transliterated first, anything still refused is skipped and counted. About 30 % of identities hold
an active INS whose NIR agrees with sex, birth month and birth place and carries a valid key; some of
those keep a former NIA in history. Nothing here prints a trait.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from faker import Faker
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.db.identities import IdentityRepository, NewIdentity
from app.domain.errors import InvalidTrait
from app.domain.ins import OID_NIA, OID_NIR, Ins, InsRecord, nir_key
from app.domain.status import Attribute, IdentityState
from app.domain.traits import build_traits

_LIGATURES = {"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"}
DEPARTMENTS = [f"{d:02d}" for d in range(1, 96) if d != 20] + ["2A", "2B"]
OVERSEAS = ["971", "972", "973", "974", "976"]


@dataclass(frozen=True)
class Shares:
    """Proportions of the generated population."""

    ins: float = 0.30
    ins_history: float = 0.05  # of INS holders: a former NIA kept in history
    document: float = 0.55  # high-trust document checked (VALI / QUAL)
    used_name_adult_women: float = 0.45
    used_name_others: float = 0.02
    used_first_name: float = 0.03
    double_birth_name: float = 0.08
    homa: float = 0.002
    sex_unknown: float = 0.001


def nir_matricule(first_digit: str, born: date, place: str, order: int) -> str:
    """A 15-character matricule (NIR or NIA) consistent with its holder, with its key (ins-rniv §1).

    ``first_digit`` is 1/2 (NIR, male/female) or 7/8 (NIA); then the birth year's last two digits, the
    birth month, the birth place's 5 characters (COG commune code, ``99`` + country code abroad), the
    3-digit order number and the key ``97 - (N mod 97)`` (app.domain.ins.nir_key).
    """
    nir13 = f"{first_digit}{born.year % 100:02d}{born.month:02d}{place}{order:03d}"
    return f"{nir13}{nir_key(nir13):02d}"


def _transliterate(text: str) -> str:
    for ligature, replacement in _LIGATURES.items():
        text = text.replace(ligature, replacement)
    return text


class IdentityFaker:
    """Generates NewIdentity values; deterministic for a given seed."""

    def __init__(self, seed: int, today: date, shares: Shares | None = None) -> None:
        self.fake = Faker("fr_FR")
        self.fake.seed_instance(seed)
        self.rng = random.Random(seed)
        self.today = today
        self.shares = shares or Shares()
        self.matricules: set[str] = set()
        self.skipped = 0

    def _first_names(self, sex: str) -> str:
        pick = self.fake.first_name_female if sex == "F" else self.fake.first_name_male
        count = self.rng.choices((1, 2, 3), weights=(35, 45, 20))[0]
        return " ".join(pick() for _ in range(count))

    def _birth_name(self) -> str:
        name = self.fake.last_name()
        if self.rng.random() < self.shares.double_birth_name:
            name = f"{name}-{self.fake.last_name()}"
        return name

    def _birth_place(self) -> str | None:
        roll = self.rng.random()
        if roll < 0.02:
            return None
        if roll < 0.07:
            return f"99{self.rng.randint(100, 450)}"
        if roll < 0.09:
            return f"{self.rng.choice(OVERSEAS)}{self.rng.randint(1, 34):02d}"
        return f"{self.rng.choice(DEPARTMENTS)}{self.rng.randint(1, 600):03d}"

    def _matricule(self, first_digit: str, born: date, place: str) -> str:
        while True:
            matricule = nir_matricule(first_digit, born, place, self.rng.randint(1, 999))
            if matricule not in self.matricules:
                self.matricules.add(matricule)
                return matricule

    def _ins(self, sex: str, born: date, place: str) -> tuple[InsRecord, ...]:
        nir = Ins.of(self._matricule("1" if sex == "M" else "2", born, place), OID_NIR)
        records = [InsRecord(nir, True, "INSI")]
        if self.rng.random() < self.shares.ins_history:
            nia = Ins.of(self._matricule(self.rng.choice("78"), born, place), OID_NIA)
            records.append(InsRecord(nia, False, "INSI", valid_to=self.today))
        return tuple(records)

    def _used_name(self, sex: str, born: date) -> str | None:
        adult_woman = sex == "F" and (self.today - born).days > 20 * 365
        share = self.shares.used_name_adult_women if adult_woman else self.shares.used_name_others
        return self.fake.last_name() if self.rng.random() < share else None

    def make(self, now: datetime, ipp: str) -> NewIdentity | None:
        """One identity, or None when Faker produced a name the lexical profile refuses."""
        roll = self.rng.random()
        sex = "U" if roll < self.shares.sex_unknown else ("F" if roll < 0.51 else "M")
        born = self.today - timedelta(days=self.rng.randint(0, 100 * 365))
        place = self._birth_place()
        try:
            traits = build_traits(
                birth_name=_transliterate(self._birth_name()),
                first_names=_transliterate(self._first_names(sex)),
                birth_date=born, sex=sex, birth_place_code=place, today=self.today,
                used_name=_transliterate(self._used_name(sex, born) or ""),
                used_first_name=_transliterate(self._first_names(sex).split(" ")[0])
                if self.rng.random() < self.shares.used_first_name else None,
            )
        except InvalidTrait:
            self.skipped += 1
            return None
        with_ins = sex != "U" and place is not None and self.rng.random() < self.shares.ins
        ins = self._ins(sex, born, place) if with_ins and place else ()
        homa = self.rng.random() < self.shares.homa
        state = IdentityState(insi=bool(ins), document=self.rng.random() < self.shares.document,
                              attributes=frozenset({Attribute.HOMA}) if homa else frozenset())
        return NewIdentity(traits, state, ipp=ipp, source="SM", ins_records=ins,
                           insi_at=now if ins else None)

    def batches(self, count: int, batch_size: int, start: int) -> Iterator[list[NewIdentity]]:
        """`count` identities in lists of `batch_size`; IPPs numbered from `start`."""
        now = datetime.now(UTC)
        batch: list[NewIdentity] = []
        number = start
        made = 0
        while made < count:
            new = self.make(now, f"{number:010d}")
            number += 1
            if new is None:
                continue
            batch.append(new)
            made += 1
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


@dataclass(frozen=True)
class SeedReport:
    """How the seeding went: rows, wall time, time spent in the database, skipped names."""

    identities: int
    ins_rows: int
    seconds: float
    database_seconds: float
    skipped_names: int

    @property
    def rate_per_s(self) -> float:
        """Identities created per second, generation included."""
        return self.identities / self.seconds if self.seconds else 0.0

    @property
    def database_rate_per_s(self) -> float:
        """Identities created per second of database time (insert + commit)."""
        return self.identities / self.database_seconds if self.database_seconds else 0.0


def seed(engine: Engine, count: int, *, batch_size: int = 5000, seed_value: int = 20261124,
         start: int = 1) -> SeedReport:
    """Insert `count` identities through IdentityRepository.add_many, one commit per batch."""
    faker = IdentityFaker(seed_value, datetime.now(UTC).date())
    columns = (TextColumn("seeding"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]:>8.0f} rows/s"), TimeRemainingColumn())
    inserted = ins_rows = 0
    db_seconds = 0.0
    started = time.perf_counter()
    with Progress(*columns, transient=False) as progress, Session(engine) as session:
        task = progress.add_task("seed", total=count, rate=0.0)
        repo = IdentityRepository(session)
        for batch in faker.batches(count, batch_size, start):
            t0 = time.perf_counter()
            repo.add_many(batch, datetime.now(UTC))
            session.commit()
            db_seconds += time.perf_counter() - t0
            inserted += len(batch)
            ins_rows += sum(len(b.ins_records) for b in batch)
            rate = inserted / (time.perf_counter() - started)
            progress.update(task, advance=len(batch), rate=rate)
    return SeedReport(inserted, ins_rows, time.perf_counter() - started, db_seconds, faker.skipped)
