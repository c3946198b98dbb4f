"""Hypothesis strategies for INS payloads (shared by the document tests)."""

from __future__ import annotations

from datetime import date

from hypothesis import strategies as st

from app.domain.datamatrix import InsPayload
from app.domain.ins import KNOWN_OIDS, nir_key
from app.domain.traits import Sex, normalise_first_names, normalise_name

_WORD = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12)


def _joined(words: list[str], seps: list[str]) -> str:
    out = words[0]
    for word, sep in zip(words[1:], seps, strict=False):
        out += sep + word
    return out


@st.composite
def names(draw: st.DrawFn, *, first_names: bool = False, max_size: int = 100) -> str:
    """A name in the INS lexical profile, up to max_size characters."""
    words = draw(st.lists(_WORD, min_size=1, max_size=12))
    seps = draw(st.lists(st.sampled_from([" ", "-", "'"]), min_size=len(words), max_size=len(words)))
    value = _joined(words, seps)[:max_size].rstrip(" -'")
    if not value:
        value = "A"
    normaliser = normalise_first_names if first_names else lambda v: normalise_name(v, "birth_name")
    return normaliser(value)


@st.composite
def matricules(draw: st.DrawFn) -> str:
    """A valid matricule INS, Corsican departments included."""
    sex = draw(st.sampled_from("123478"))
    year_month = draw(st.integers(0, 9999))
    department = draw(st.sampled_from(["2A", "2B", "75", "13", "99", "01"]))
    rest = draw(st.integers(0, 999_999))
    body = f"{sex}{year_month:04d}{department}{rest:06d}"
    return body + f"{nir_key(body):02d}"


@st.composite
def payloads(draw: st.DrawFn) -> InsPayload:
    """Any valid INS payload, with or without S7."""
    place = draw(
        st.none()
        | st.sampled_from(["2A004", "2B033", "99255", "75056", "01154"])
        | st.integers(1000, 95999).map(lambda n: f"{n:05d}")
    )
    return InsPayload(
        matricule=draw(matricules()),
        oid=draw(st.sampled_from(sorted(KNOWN_OIDS))),
        first_names=draw(names(first_names=True)),
        birth_name=draw(names()),
        sex=draw(st.sampled_from([Sex.M, Sex.F])),
        birth_date=draw(st.dates(min_value=date(1850, 1, 1), max_value=date(2026, 1, 1))),
        birth_place_code=place,
    )
